"""The client-side `llm-lab` commands: CliRunner against a live server and a scripted Eval Hub,
and as real subprocesses (exit codes, --output json parsed back, progress output)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llm_research_lab import Client
from llm_research_lab.cli.main import app
from llm_research_lab.schemas import hub as h
from tests.integration.client.scripted_server import Reply, Script, Seen, scripted_server
from tests.livesrv import LiveServer, live_server

runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("cli") / "data") as srv:
        yield srv


def cli(base_url: str, *args: str) -> Any:
    return runner.invoke(app, ["--base-url", base_url, *args], env={"LAB_API_KEY": "k"})


def test_experiments_commands(server: LiveServer) -> None:
    tag = uuid.uuid4().hex[:8]
    with Client(base_url=server.base_url) as c:
        a = c.experiments.create(name=f"A-{tag}", tags=[tag])
        b = c.experiments.create(name=f"B-{tag}", tags=[tag])
        for exp, acc in ((a, 0.5), (b, 0.75)):
            run = exp.create_run()
            run.log_metrics({"accuracy": acc, "bleu": 0.1})
            run.complete()

    listed = cli(server.base_url, "experiments", "list", "--tag", tag, "--output", "json")
    assert listed.exit_code == 0, listed.output
    assert {e["id"] for e in json.loads(listed.stdout)} == {str(a.id), str(b.id)}

    table = cli(server.base_url, "experiments", "list", "--tag", tag)
    assert table.exit_code == 0 and f"A-{tag}" in table.stdout and "draft" in table.stdout

    shown = json.loads(cli(server.base_url, "experiments", "show", str(a.id), "-o", "json").stdout)
    assert shown["experiment"]["name"] == f"A-{tag}" and len(shown["runs"]) == 1

    metrics = json.loads(cli(server.base_url, "experiments", "metrics", str(b.id), "-o", "json").stdout)
    assert metrics["aggregated_metrics"]["accuracy"]["mean"] == 0.75
    metrics_table = cli(server.base_url, "experiments", "metrics", str(b.id))
    assert "accuracy" in metrics_table.stdout and "0.75" in metrics_table.stdout

    compared = cli(server.base_url, "experiments", "compare", str(a.id), str(b.id), "-o", "json")
    assert compared.exit_code == 0, compared.output
    body = json.loads(compared.stdout)
    acc = next(r for r in body["metrics"] if r["metric"] == "accuracy")
    assert acc["diff (b-a)"] == pytest.approx(0.25) and body["paired"] is None
    text = cli(server.base_url, "experiments", "compare", str(a.id), str(b.id))
    assert "no shared sample ledger" in text.stdout


def test_not_found_is_a_usage_error_with_the_request_id(server: LiveServer) -> None:
    result = cli(server.base_url, "experiments", "show", str(uuid.uuid4()))
    assert result.exit_code == 2
    assert "not_found" in result.output and "request req_" in result.output


def test_prompts_render(server: LiveServer) -> None:
    with Client(base_url=server.base_url) as c:
        prompt = c.prompts.create(f"p-{uuid.uuid4().hex[:6]}", "Q: {{question}} ({{style}})")
    result = cli(
        server.base_url,
        "prompts",
        "render",
        str(prompt.id),
        "--var",
        "question=2+2?",
        "--vars",
        '{"style": "short"}',
    )
    assert result.exit_code == 0 and result.stdout.strip() == "Q: 2+2? (short)"
    as_json = cli(
        server.base_url,
        "prompts",
        "render",
        str(prompt.id),
        "--vars",
        '{"question": 1, "style": 2}',
        "-o",
        "json",
    )
    assert json.loads(as_json.stdout) == {"rendered": "Q: 1 (2)"}
    bad = cli(server.base_url, "prompts", "render", str(prompt.id), "--var", "novalue")
    assert bad.exit_code == 2 and "name=value" in bad.output


def test_unreachable_server_exits_3() -> None:
    result = runner.invoke(app, ["--base-url", "http://127.0.0.1:9", "experiments", "list"])
    assert result.exit_code == 3 and "cannot reach the server" in result.output


# --------------------------------------------------------------------------- scripted Eval Hub

RID = uuid.UUID("11111111-2222-3333-4444-555555555555")
EID = uuid.UUID("99999999-2222-3333-4444-555555555555")


def _status(state: str, done: int, acc: float | None, error: str | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    result = h.BenchmarkResult(
        benchmark_name="arc_easy",
        evaluation_name="e",
        backend_name="native",
        backend_type="native",
        model_name="fake",
        run_id=uuid.uuid4(),
        status=state,
        metrics={"accuracy": acc} if acc is not None else {},
        samples_done=done,
        samples_total=10,
        error=error,
    )
    return h.EvaluationStatus(
        request_id=RID,
        experiment_name="x",
        status=h.HubStatus(state),
        progress_percentage=done * 10.0,
        total_evaluations=1,
        completed_evaluations=int(state == "completed"),
        failed_evaluations=int(state == "failed"),
        cancelled_evaluations=0,
        running_evaluations=int(state == "running"),
        results=[result],
        experiment_id=EID,
        experiment_url=f"/ui/experiments/{EID}",
        created_at=now,
        updated_at=now,
    ).model_dump(mode="json")


def _hub(statuses: list[dict[str, Any]]) -> Script:
    created = h.EvaluationCreated(
        request_id=RID,
        status=h.HubStatus.PENDING,
        experiment_id=EID,
        experiment_url="/ui/x",
        total_evaluations=1,
        created_at=datetime.now(UTC),
    ).model_dump(mode="json")
    bench = h.HubBenchmark(
        benchmark_id="arc_easy",
        provider_id="lm_evaluation_harness",
        name="ARC Easy",
        description="d",
        category="reasoning",
        metrics=["acc"],
        num_few_shot=0,
        request_type="loglikelihood",
    )
    queue = list(statuses)

    def handle(seen: Seen) -> Reply:
        path = seen.path.split("?")[0]
        if seen.method == "POST" and path == "/api/v1/evaluations":
            return Reply(202, created)
        if seen.method == "GET" and path == f"/api/v1/evaluations/{RID}":
            return Reply(200, queue.pop(0) if len(queue) > 1 else queue[0])
        if seen.method == "DELETE" and path == f"/api/v1/evaluations/{RID}":
            return Reply(200, {"message": f"Evaluation {RID} cancelled"})
        if path == "/api/v1/evaluations":
            return Reply(200, [statuses[-1]])
        if path == "/api/v1/benchmarks":
            return Reply(200, {"benchmarks": [bench.model_dump(mode="json")], "total_count": 1})
        if path == "/api/v1/collections":
            quick = {
                "collection_id": "quick",
                "name": "Quick",
                "description": "d",
                "benchmarks": [
                    {"provider_id": "lm_evaluation_harness", "benchmark_id": "arc_easy"},
                    {"provider_id": "lm_evaluation_harness", "benchmark_id": "piqa"},
                ],
            }
            return Reply(200, {"collections": [quick], "total_collections": 1})
        return Reply(404, {"error": "not_found", "message": f"no {path}", "request_id": "req_404"})

    return Script(handler=handle)


def test_eval_run_wait_shows_progress_and_results() -> None:
    script = _hub([_status("running", 0, None), _status("running", 5, 0.6), _status("completed", 10, 0.7)])
    with scripted_server(script) as url:
        result = cli(
            url,
            "eval",
            "run",
            "--model",
            "fake",
            "--collection",
            "quick",
            "--limit",
            "10",
            "--num-fewshot",
            "0",
            "--wait",
            "--poll",
            "0.05",
        )
    assert result.exit_code == 0, result.output
    assert f"submitted {RID}" in result.output
    assert "samples/s" in result.output and "10/10" in result.output and "acc 0.7" in result.output
    assert "arc_easy" in result.stdout and "completed" in result.stdout
    posted = json.loads(next(s for s in script.seen if s.method == "POST").body)
    benchmarks = posted["evaluations"][0]["backends"][0]["benchmarks"]
    assert [b["name"] for b in benchmarks] == ["arc_easy", "piqa"]
    assert benchmarks[0]["config"] == {"limit": 10, "num_fewshot": 0}
    assert posted["evaluations"][0]["model_name"] == "fake"


def test_eval_run_failed_job_exits_1_and_json_output() -> None:
    script = _hub([_status("running", 3, 0.5), _status("failed", 3, 0.5, error="endpoint down")])
    with scripted_server(script) as url:
        result = cli(
            url, "eval", "run", "--model", "fake", "-b", "arc_easy", "--wait", "--poll", "0.05", "-o", "json"
        )
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["status"] == "failed" and body["results"][0]["error"] == "endpoint down"


def test_eval_usage_errors_exit_2() -> None:
    result = runner.invoke(app, ["--base-url", "http://127.0.0.1:9", "eval", "run", "--model", "m"])
    assert result.exit_code == 2 and "--benchmark" in result.output
    both = runner.invoke(app, ["eval", "run", "--model", "m", "--collection", "c", "--risk-category", "low"])
    assert both.exit_code == 2


def test_eval_status_list_cancel_and_benchmarks() -> None:
    script = _hub([_status("running", 4, 0.25)])
    with scripted_server(script) as url:
        status = cli(url, "eval", "status", str(RID))
        listed = cli(url, "eval", "list", "-o", "json")
        cancelled = cli(url, "eval", "cancel", str(RID))
        benches = cli(url, "benchmarks", "list", "--category", "reasoning", "-o", "json")
        missing = cli(url, "eval", "status", str(uuid.uuid4()))
    assert status.exit_code == 0 and "running" in status.stdout and "4/10 samples" in status.stdout
    assert [j["request_id"] for j in json.loads(listed.stdout)] == [str(RID)]
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
    assert json.loads(benches.stdout)[0]["benchmark_id"] == "arc_easy"
    assert any("category=reasoning" in s.path for s in script.seen)
    assert missing.exit_code == 2 and "req_404" in missing.output


def test_subprocess_json_output_and_env_base_url(server: LiveServer, tmp_path: Path) -> None:
    name = f"sub-{uuid.uuid4().hex[:8]}"
    with Client(base_url=server.base_url) as c:
        made = c.experiments.create(name=name, tags=[name])
    env = {**server.env, "LAB_BASE_URL": server.base_url}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llm_research_lab.cli.main",
            "experiments",
            "list",
            "--tag",
            name,
            "-o",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [e["id"] for e in json.loads(proc.stdout)] == [str(made.id)]
    bad = subprocess.run(
        [sys.executable, "-m", "llm_research_lab.cli.main", "experiments", "list", "--output", "yaml"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "yaml" in bad.stderr
