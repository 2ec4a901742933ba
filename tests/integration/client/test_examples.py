"""The runnable examples, executed against the live server and the loopback OpenAI-compatible fake."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import GenRule, Script, running_openai_server
from tests.livesrv import REPO_ROOT, LiveServer


@pytest.fixture(scope="module")
def fake_model() -> Iterator[tuple[str, Script]]:
    # Two of the three quickstart questions are answered right: accuracy 2/3.
    script = Script(gen_rules=[GenRule("2 + 2", "4"), GenRule("France", "Paris"), GenRule("hot", "warm")])
    with running_openai_server(script) as base_url:
        yield base_url, script


def test_sdk_quickstart_runs_as_written(server: LiveServer, fake_model: tuple[str, Script]) -> None:
    url, script = fake_model
    env = {
        **server.env,
        "LAB_BASE_URL": server.base_url,
        "LAB_API_KEY": "k",
        "LAB_EXAMPLE_MODEL_URL": f"{url}/v1",
    }
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "sdk_quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    accuracy = float(proc.stdout.strip().rsplit("Accuracy: ", 1)[1])
    assert accuracy == pytest.approx(2 / 3)
    # the server's engine ran the experiment (a managed run) against the fake endpoint
    asked = [
        b
        for b in script.bodies("/v1/completions") + script.bodies("/v1/chat/completions")
        if "Question: What is 2 + 2?" in json.dumps(b)
    ]
    assert asked


def test_eval_hub_notebook_flows(server: LiveServer, fake_model: tuple[str, Script]) -> None:
    url, script = fake_model
    env = {**server.env, "LAB_BASE_URL": server.base_url, "LAB_EXAMPLE_MODEL_URL": url}
    before = script.count("/v1/completions")
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "eval_hub_notebook.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "Service is healthy!" in out and re.search(r"Found [1-9]\d* providers", out)
    assert "Status: completed" in out and "arc_easy: completed" in out
    assert "Invalid request rejected with 400" in out and "Non-existent evaluation: 404" in out
    assert out.rstrip().endswith("Notebook flows completed")
    assert script.count("/v1/completions") > before  # the engine really called the model
