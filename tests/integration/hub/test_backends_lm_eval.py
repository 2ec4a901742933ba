"""Eval Hub jobs on the real lm-evaluation-harness backend: the notebook's explicit-backend request runs
lm_eval in a subprocess against the loopback fake server (with vLLM-style tokenizer routes), and its
metrics, samples and evaluation metadata come from lm-eval."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.registry import create_benchmark
from tests.fakes.openai_server import FakeServer, LLRule, Script
from tests.integration.hub.helpers import MODEL, wait_status
from tests.parity.fake_tokenizer import add_tokenizer_routes

pytestmark = [
    # lm_eval runs in a subprocess; nothing of it is imported here, but its datasets/transformers
    # imports in our process (none expected) must not turn deprecations into errors either.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture
def script() -> Script:
    script = Script(model="fake-model")
    add_tokenizer_routes(script)
    return script


def _script_mc(script: Script, benchmark_id: str, n: int, right: int) -> None:
    """Gold answer on the first `right` docs, a wrong one on the rest. Rules match on the evaluated
    document's own 0-shot prompt (contained in the few-shot prompt lm-eval builds)."""
    bench = create_benchmark(benchmark_id)
    docs = bench.docs(load_catalog().resolver().source(benchmark_id))
    for i in range(n):
        p = bench.build(docs[i], i, [])
        assert p.gold is not None
        pick = p.gold if i < right else (p.gold + 1) % len(p.choices)
        script.ll_rules.append(LLRule(p.prompt, p.requests[pick].continuation, -0.05, greedy=True))


def explicit_request(**overrides: Any) -> dict[str, Any]:
    """The notebook's explicit-backend example, with smaller limits."""
    return {
        "experiment_name": "Explicit Backend Configuration",
        "evaluations": [
            {
                "name": "LM-Eval Harness Evaluation",
                "description": "Evaluation with explicit lm-evaluation-harness configuration",
                "model_name": MODEL,
                "model_configuration": {"temperature": 0.1, "max_tokens": 256, "top_p": 0.95},
                "backends": [
                    {
                        "name": "lm-eval-backend",
                        "type": "lm-evaluation-harness",
                        "config": {"batch_size": 1, "device": "cpu", "parallelism": 4},
                        "benchmarks": [
                            {
                                "name": "arc_easy",
                                "tasks": ["arc_easy"],
                                "config": {"num_fewshot": 5, "limit": 10},
                            },
                            {
                                "name": "hellaswag",
                                "tasks": ["hellaswag"],
                                "config": {"num_fewshot": 10, "limit": 10},
                            },
                        ],
                    }
                ],
                "timeout_minutes": 45,
                "retry_attempts": 2,
                **overrides,
            }
        ],
        "tags": {"example_type": "explicit_backend", "complexity": "intermediate"},
    }


def _stderr(p: float, n: int) -> float:
    # lm-eval's mean_stderr: sample standard deviation (n - 1) over sqrt(n).
    return math.sqrt(p * (1 - p) / (n - 1))


async def test_explicit_backend_runs_real_lm_eval(hub: httpx.AsyncClient, script: Script) -> None:
    _script_mc(script, "arc_easy", 10, right=7)
    _script_mc(script, "hellaswag", 10, right=4)
    r = await hub.post("/api/v1/evaluations", json=explicit_request())
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    status = await wait_status(hub, rid, timeout=240)
    assert status["status"] == "completed", status
    by_name = {x["benchmark_name"]: x for x in status["results"]}
    assert set(by_name) == {"arc_easy", "hellaswag"}
    for name, right in (("arc_easy", 7), ("hellaswag", 4)):
        res = by_name[name]
        assert res["backend_name"] == "lm-eval-backend" and res["status"] == "completed"
        assert res["samples"] == 10 and res["method"] == "loglikelihood"
        assert res["metrics"]["acc"] == pytest.approx(right / 10)
        assert res["metrics"]["acc_stderr"] == pytest.approx(_stderr(right / 10, 10))
        assert "acc_norm" in res["metrics"]

    # The Evaluation records say who executed them, with lm-eval's version.
    evals = (await hub.get("/evaluations", params={"experiment_id": status["experiment_id"]})).json()["data"]
    assert len(evals) == 2
    import importlib.metadata

    for ev in evals:
        assert ev["metadata"]["executed_by"] == "lm-evaluation-harness"
        assert ev["metadata"]["lm_eval_version"] == importlib.metadata.version("lm_eval")
        assert ev["metadata"]["num_fewshot"] in (5, 10)

    # lm-eval's logged samples are in the ledger: 10 per benchmark, the few-shot prompt included.
    page = (await hub.get(f"/api/v1/evaluations/{rid}/samples", params={"benchmark": "arc_easy"})).json()
    rows = page["data"]
    assert len(rows) == 10
    assert sum(row["scores"]["acc"] for row in rows) == 7
    assert all(row["extra"]["backend"] == "lm-evaluation-harness" for row in rows)
    assert all(row["prompt"].count("Question:") == 6 for row in rows)  # 5 shots + the question
    # Every request went to the model endpoint through lm-eval's local-completions.
    assert script.count("/v1/completions") > 0 and script.count("/tokenizer_info") > 0


async def test_without_a_tokenizer_the_job_fails_with_the_reason(
    hub: httpx.AsyncClient, script: Script
) -> None:
    for route in [k for k in script.routes if k[1] in ("/tokenizer_info", "/tokenize", "/detokenize")]:
        del script.routes[route]
    body = explicit_request(retry_attempts=0)
    body["evaluations"][0]["backends"][0]["benchmarks"] = body["evaluations"][0]["backends"][0]["benchmarks"][
        :1
    ]
    r = await hub.post("/api/v1/evaluations", json=body)
    assert r.status_code == 202, r.text
    status = await wait_status(hub, r.json()["request_id"], timeout=60)
    assert status["status"] == "failed"
    (res,) = status["results"]
    assert res["status"] == "failed" and res["attempts"] == 1
    assert "tokenizer" in res["error"] and "/tokenizer_info" in res["error"]


@pytest.fixture
def no_lm_eval(tmp_path: Path, environ: dict[str, str]) -> dict[str, str]:
    """A PYTHONPATH entry that makes the harness subprocess an interpreter without lm_eval: its
    ``lm_eval`` fails to import exactly as a missing package does."""
    pkg = tmp_path / "shadow" / "lm_eval"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'lm_eval'\", name='lm_eval')\n", encoding="utf-8"
    )
    environ["PYTHONPATH"] = str(tmp_path / "shadow")
    return environ


async def test_missing_lm_eval_fails_the_job_with_the_install_hint(
    no_lm_eval: dict[str, str], hub: httpx.AsyncClient, fake: FakeServer
) -> None:
    body = explicit_request(retry_attempts=2)
    body["evaluations"][0]["backends"][0]["benchmarks"] = body["evaluations"][0]["backends"][0]["benchmarks"][
        :1
    ]
    r = await hub.post("/api/v1/evaluations", json=body)
    assert r.status_code == 202, r.text
    status = await wait_status(hub, r.json()["request_id"], timeout=60)
    assert status["status"] == "failed"
    (res,) = status["results"]
    # Not retried: a missing package is the same on every attempt.
    assert res["attempts"] == 1
    assert "lm-eval package cannot be imported" in res["error"]
    assert "pip install 'llm-research-lab[lmeval]'" in res["error"]
