"""Eval Hub evaluations end to end: submission, the local executor, status, results, cancel,
validation, and the same work seen from the Research Lab side."""

from __future__ import annotations

import math
import uuid

import httpx

from llm_research_lab.engine.metrics.stats import mean_stderr
from tests.fakes.openai_server import Script
from tests.integration.hub.helpers import MODEL, prepared_docs, script_mc, wait_status

SINGLE = {
    "model_name": MODEL,
    "model_configuration": {"temperature": 0.0, "max_tokens": 512},
    "timeout_minutes": 30,
    "retry_attempts": 1,
    "limit": 20,
    "num_fewshot": 0,
    "experiment_name": "Single Benchmark - ARC Easy",
    "tags": {"example_type": "single_benchmark", "benchmark": "arc_easy"},
}


async def test_single_benchmark_scores_exactly(hub: httpx.AsyncClient, script: Script) -> None:
    docs = prepared_docs("arc_easy", 20)
    script_mc(script, docs, right=13)
    r = await hub.post("/api/v1/evaluations/benchmarks/lm_evaluation_harness/arc_easy", json=SINGLE)
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] == "pending"
    assert created["experiment_url"].endswith(f"/ui/experiments/{created['experiment_id']}")
    rid = created["request_id"]

    status = await wait_status(hub, rid)
    assert status["status"] == "completed", status
    assert status["progress_percentage"] == 100.0
    assert (status["total_evaluations"], status["completed_evaluations"], status["failed_evaluations"]) == (
        1,
        1,
        0,
    )
    (result,) = status["results"]
    assert result["benchmark_name"] == "arc_easy" and result["status"] == "completed"
    assert result["method"] == "loglikelihood"
    scores = [1.0] * 13 + [0.0] * 7
    assert result["metrics"]["acc"] == 13 / 20
    assert math.isclose(result["metrics"]["acc_stderr"], mean_stderr(scores))
    assert result["samples"] == 20 and result["duration_seconds"] >= 0
    assert result["started_at"] and result["completed_at"]

    samples = (await hub.get(f"/api/v1/evaluations/{rid}/samples", params={"limit": 100})).json()
    assert samples["pagination"]["total"] == 20
    assert sorted(s["doc_id"] for s in samples["data"]) == list(range(20))
    assert [s["scores"]["acc"] for s in sorted(samples["data"], key=lambda s: s["doc_id"])] == scores
    assert samples["data"][0]["prompt"].startswith("Question:")

    # The same work on the Research Lab side: experiment, run, evaluation, aggregated metrics.
    exp_id = created["experiment_id"]
    exp = (await hub.get(f"/experiments/{exp_id}")).json()
    assert exp["name"] == "Single Benchmark - ARC Easy" and exp["status"] == "completed"
    assert "example_type:single_benchmark" in exp["tags"]
    assert exp["metadata"]["hub_tags"] == SINGLE["tags"]
    runs = (await hub.get(f"/experiments/{exp_id}/runs")).json()["data"]
    assert [(x["status"], x["managed"]) for x in runs] == [("completed", True)]
    metrics = (await hub.get(f"/experiments/{exp_id}/metrics")).json()
    assert metrics["aggregated_metrics"]["acc"]["mean"] == 13 / 20
    assert metrics["aggregated_metrics"]["total_tokens"]["mean"] > 0
    run_samples = (await hub.get(f"/experiments/{exp_id}/runs/{runs[0]['id']}/samples")).json()
    assert run_samples["pagination"]["total"] == 20
    evals = (await hub.get("/evaluations", params={"experiment_id": exp_id})).json()["data"]
    assert len(evals) == 1 and evals[0]["metrics"]["acc"] == 13 / 20

    listed = (await hub.get("/api/v1/evaluations")).json()
    assert [e["request_id"] for e in listed] == [rid]
    assert (await hub.get("/api/v1/evaluations", params={"status": "running"})).json() == []
    system = (await hub.get("/api/v1/metrics/system")).json()
    assert system["total_requests"] == 1 and system["status_breakdown"] == {"completed": 1}
    assert system["active_evaluations"] == 0 and system["memory_usage"]["active_evaluations_mb"] == 0


async def test_risk_category_low_runs_both_benchmarks(hub: httpx.AsyncClient) -> None:
    body = {
        "request_id": str(uuid.uuid4()),
        "experiment_name": "Simple Risk-Based Evaluation",
        "evaluations": [
            {
                "name": "GPT-4 Mini Low Risk Evaluation",
                "description": "Basic evaluation using low risk benchmarks",
                "model_name": MODEL,
                "model_configuration": {"temperature": 0.0, "max_tokens": 512},
                "risk_category": "low",
                "timeout_minutes": 30,
                "retry_attempts": 1,
            }
        ],
        "tags": {"example_type": "risk_category", "complexity": "simple"},
    }
    r = await hub.post("/api/v1/evaluations", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["request_id"] == body["request_id"]
    status = await wait_status(hub, body["request_id"], timeout=120)
    assert status["status"] == "completed", status
    assert sorted(x["benchmark_name"] for x in status["results"]) == ["arc_easy", "hellaswag"]
    for x in status["results"]:
        assert x["samples"] == 100, x
        assert 0.0 <= x["metrics"]["acc"] <= 1.0 and "acc_norm_stderr" in x["metrics"]
    runs = (await hub.get(f"/experiments/{status['experiment_id']}/runs")).json()["data"]
    assert {x["config"]["num_fewshot"] for x in runs} == {5}
    # A second request with the same request_id is a conflict, and creates nothing.
    again = await hub.post("/api/v1/evaluations", json=body)
    assert again.status_code == 409 and "detail" in again.json()


async def test_cancel_stops_a_running_evaluation(hub: httpx.AsyncClient, script: Script) -> None:
    script.latency_ms = 200
    body = {**SINGLE, "limit": 400}
    r = await hub.post("/api/v1/evaluations/benchmarks/lm_evaluation_harness/arc_easy", json=body)
    assert r.status_code == 202
    rid = r.json()["request_id"]
    await wait_status(hub, rid, {"running"})
    r = await hub.delete(f"/api/v1/evaluations/{rid}")
    assert r.status_code == 200 and "cancelled" in r.json()["message"]
    status = (await hub.get(f"/api/v1/evaluations/{rid}")).json()
    assert status["status"] == "cancelled" and status["results"][0]["status"] == "cancelled"
    # In-flight requests stop within seconds: the request log stops growing.
    import asyncio

    await asyncio.sleep(1.0)
    seen = script.count("/v1/completions")
    await asyncio.sleep(1.0)
    assert script.count("/v1/completions") == seen
    assert seen < 400
    exp = (await hub.get(f"/experiments/{status['experiment_id']}")).json()
    assert exp["status"] == "failed"
    again = await hub.delete(f"/api/v1/evaluations/{rid}")
    assert again.status_code == 409 and "detail" in again.json()


async def _experiment_count(hub: httpx.AsyncClient) -> int:
    total: int = (await hub.get("/experiments")).json()["pagination"]["total"]
    return total


async def test_invalid_requests_create_nothing(hub: httpx.AsyncClient) -> None:
    before = await _experiment_count(hub)
    invalid = {
        "request_id": "invalid-uuid-format",
        "evaluations": [{"name": "", "model_name": "", "backends": []}],
    }
    r = await hub.post("/api/v1/evaluations", json=invalid)
    assert r.status_code == 400
    body = r.json()
    assert body["detail"] and body["error"] == "validation_error"
    fields = body["details"]["fields"]
    assert "request_id" in fields and "evaluations.0.name" in fields and "evaluations.0.model_name" in fields

    def config_test(**cfg: object) -> dict[str, object]:
        return {
            "request_id": str(uuid.uuid4()),
            "experiment_name": "Config test",
            "evaluations": [{"name": "Config test", "model_name": MODEL, "risk_category": "low", **cfg}],
        }

    for cfg, field in (
        ({"timeout_minutes": 0, "retry_attempts": 1}, "evaluations.0.timeout_minutes"),
        ({"timeout_minutes": 30, "retry_attempts": -1}, "evaluations.0.retry_attempts"),
    ):
        r = await hub.post("/api/v1/evaluations", json=config_test(**cfg))
        assert r.status_code == 400 and field in r.json()["details"]["fields"], r.text
        assert r.json()["detail"]

    r = await hub.post(
        "/api/v1/evaluations", json={**config_test(), "evaluations": [{"name": "x", "model_name": MODEL}]}
    )
    assert r.status_code == 400 and "risk_category" in str(r.json()["detail"])

    r = await hub.post(
        "/api/v1/evaluations",
        json={
            **config_test(),
            "evaluations": [{"name": "x", "model_name": "gpt-4o-mimi", "risk_category": "low"}],
        },
    )
    assert r.status_code == 404 and "gpt-4o-mimi" in r.json()["detail"]["message"]
    assert "gpt-4o-mini" in r.json()["detail"]["message"]  # did you mean

    bad_task = {
        "name": "x",
        "model_name": MODEL,
        "backends": [
            {"name": "b", "type": "native", "benchmarks": [{"name": "arc_eazy", "tasks": ["arc_eazy"]}]}
        ],
    }
    r = await hub.post("/api/v1/evaluations", json={**config_test(), "evaluations": [bad_task]})
    assert r.status_code == 400 and "arc_easy" in str(r.json()["detail"])

    nemo = {
        **bad_task,
        "backends": [
            {
                **bad_task["backends"][0],
                "type": "nemo-evaluator",  # type: ignore[index]
                "benchmarks": [{"name": "mmlu_pro", "tasks": ["mmlu_pro"]}],
            }
        ],
    }
    nemo["backends"][0]["config"] = {"endpoint_type": "embedding"}  # type: ignore[index]
    r = await hub.post("/api/v1/evaluations", json={**config_test(), "evaluations": [nemo]})
    assert (
        r.status_code == 400
        and "evaluations.0.backends.0.config.endpoint_type" in r.json()["details"]["fields"]
    )

    r = await hub.post("/api/v1/evaluations/benchmarks/lm_evaluation_harness/arc_eazy", json=SINGLE)
    assert r.status_code == 404 and "arc_easy" in str(r.json()["detail"])
    r = await hub.post("/api/v1/evaluations/benchmarks/lm_eval_harness/arc_easy", json=SINGLE)
    assert r.status_code == 404 and "lm_evaluation_harness" in str(r.json()["detail"])

    assert await _experiment_count(hub) == before
    assert (await hub.get("/api/v1/evaluations")).json() == []


async def test_unknown_and_malformed_evaluation_ids(hub: httpx.AsyncClient) -> None:
    fake_id = str(uuid.uuid4())
    r = await hub.get(f"/api/v1/evaluations/{fake_id}")
    assert r.status_code == 404 and fake_id in r.json()["detail"]
    r = await hub.get("/api/v1/evaluations/not-a-uuid")
    assert r.status_code == 400 and r.json()["detail"]
    r = await hub.delete(f"/api/v1/evaluations/{fake_id}")
    assert r.status_code == 404
