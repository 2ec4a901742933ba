"""`llm-lab` against a live server whose engine runs jobs against the loopback OpenAI fake."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llm_research_lab.cli.main import app
from tests.fakes.openai_server import Script, running_openai_server
from tests.livesrv import LiveServer, live_server

runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    with (
        running_openai_server(Script()) as url,
        live_server(tmp_path_factory.mktemp("clihub") / "data") as srv,
    ):
        yield srv, url


def cli(srv: LiveServer, *args: str) -> Any:
    return runner.invoke(app, ["--base-url", srv.base_url, *args])


def test_models_benchmarks_collections_and_eval_run(env: tuple[LiveServer, str]) -> None:
    srv, url = env
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    added = cli(srv, "models", "add", slug, "--base-url", url, "--model-path", "fake-model", "-o", "json")
    assert added.exit_code == 0, added.output and json.loads(added.stdout)["model_id"] == slug
    probed = json.loads(cli(srv, "models", "probe", slug, "-o", "json").stdout)
    assert probed["probe"]["ok"] is True
    assert slug in {m["model_id"] for m in json.loads(cli(srv, "models", "list", "-o", "json").stdout)}
    math = json.loads(cli(srv, "benchmarks", "list", "--category", "math", "-o", "json").stdout)
    assert math and {b["category"] for b in math} == {"math"}
    assert "commonsense_reasoning" in cli(srv, "collections", "list").stdout

    ran = cli(
        srv,
        "eval",
        "run",
        "--model",
        slug,
        "-b",
        "arc_easy",
        "--limit",
        "4",
        "--wait",
        "--poll",
        "0.2",
        "-o",
        "json",
    )
    assert ran.exit_code == 0, ran.output
    final = json.loads(ran.stdout)
    assert final["status"] == "completed" and final["results"][0]["samples_done"] == 4
    rid = final["request_id"]
    samples = json.loads(cli(srv, "eval", "samples", rid, "--limit", "3", "-o", "json").stdout)
    assert len(samples) == 3 and all(s["benchmark"] == "arc_easy" for s in samples)
    status = cli(srv, "eval", "status", rid)
    assert "completed" in status.stdout and "4/4 samples" in status.stdout
    assert rid in {j["request_id"] for j in json.loads(cli(srv, "eval", "list", "-o", "json").stdout)}
    # the job's experiment, compared with itself: shared ledger → paired statistics
    compared = json.loads(
        cli(
            srv, "experiments", "compare", final["experiment_id"], final["experiment_id"], "-o", "json"
        ).stdout
    )
    assert compared["paired"]["n"] == 4 and compared["paired"]["diff"] == 0.0


def test_eval_run_subprocess_shows_progress(env: tuple[LiveServer, str]) -> None:
    srv, url = env
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_research_lab.cli.main",
            "--base-url",
            srv.base_url,
            "eval",
            "run",
            "--model",
            url,
            "--benchmark",
            "piqa",
            "--limit",
            "3",
            "--wait",
            "--poll",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=srv.env,
    )
    # a bare URL is registered (and probed) on the fly
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "submitted" in proc.stderr and "samples/s" in proc.stderr and "3/3" in proc.stderr
    assert "piqa" in proc.stdout and "completed" in proc.stdout and "acc" in proc.stdout


def test_datasets_commands(env: tuple[LiveServer, str], tmp_path: Path) -> None:
    srv, _ = env
    created = json.loads(cli(srv, "datasets", "create", f"cli-{uuid.uuid4().hex[:6]}", "-o", "json").stdout)
    did = created["id"]
    source = tmp_path / "rows.jsonl"
    source.write_text('{"a": 1}\n{"a": 2}\n')
    up = cli(srv, "datasets", "upload", did, str(source))
    assert up.exit_code == 0 and "uploaded rows.jsonl" in up.stdout
    versions = json.loads(cli(srv, "datasets", "versions", did, "--create", "1.0.0", "-o", "json").stdout)
    assert [v["version"] for v in versions] == ["1.0.0"] and versions[0]["row_count"] == 2
    target = tmp_path / "out.jsonl"
    down = cli(srv, "datasets", "download", did, str(target))
    assert down.exit_code == 0 and target.read_text() == source.read_text()
    missing = cli(srv, "datasets", "upload", str(uuid.uuid4()), str(source))
    assert missing.exit_code == 2 and "not_found" in missing.output


def test_eval_run_local_is_visible_to_a_later_server(tmp_path: Path) -> None:
    """`--local` runs the engine in-process on the data directory; `serve` later shows the job."""
    from llm_research_lab import Client

    data_dir = tmp_path / "data"
    with running_openai_server(Script()) as url:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "llm_research_lab.cli.main",
                "eval",
                "run",
                "--local",
                "--data-dir",
                str(data_dir),
                "--model",
                url,
                "-b",
                "piqa",
                "--limit",
                "3",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    job = json.loads(proc.stdout)
    assert job["status"] == "completed" and job["results"][0]["samples_done"] == 3
    with live_server(data_dir) as srv, Client(base_url=srv.base_url) as client:
        seen = client.hub.evaluations.get(job["request_id"])
        assert seen.status == "completed"
        assert client.experiments.get(seen.experiment_id).name.startswith("llm-lab eval")
