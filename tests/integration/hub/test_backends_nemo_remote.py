"""Eval Hub jobs on the NeMo Evaluator backend in remote mode: each benchmark becomes a job on the
loopback fake NeMo Evaluator service (v1 REST API), and the request's results are the service's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.nemo_service import FakeNemoService, Plan, running_nemo_service, task_result
from tests.fakes.openai_server import FakeServer
from tests.integration.hub.helpers import MODEL, runtime_env, wait_status

MMLU_PRO = {"mmlu_pro": task_result("mmlu_pro", acc=(0.42, 0.03))}
GSM8K = {"gsm8k": task_result("exact_match", strict_match=(0.6, 0.2), flexible_extract=(0.8, 0.18))}


@pytest.fixture
def service() -> Iterator[FakeNemoService]:
    plans = {"mmlu_pro": Plan(tasks=MMLU_PRO, steps=3), "gsm8k": Plan(tasks=GSM8K, steps=2)}
    with running_nemo_service(plans) as srv:
        yield srv


@pytest.fixture
def environ(fake: FakeServer) -> dict[str, str]:
    return runtime_env(fake.base_url, GROQ_API_KEY="model-key")


def remote_request(service: FakeNemoService) -> dict[str, Any]:
    return {
        "experiment_name": "Remote NeMo Evaluation",
        "evaluations": [
            {
                "name": "NeMo service",
                "model_name": MODEL,
                "model_configuration": {"temperature": 0.1, "max_tokens": 512, "top_p": 0.95},
                "backends": [
                    {
                        "name": "nemo-remote",
                        "type": "nemo-evaluator",
                        "config": {
                            "mode": "remote",
                            "endpoint": "127.0.0.1",
                            "port": service.port,
                            "poll_interval_seconds": 0.02,
                            "api_key_env": "GROQ_API_KEY",
                            "parallelism": 2,
                        },
                        "benchmarks": [
                            {
                                "name": "mmlu_pro",
                                "tasks": ["mmlu_pro"],
                                "config": {"limit": 5, "num_fewshot": 5},
                            },
                            {"name": "gsm8k", "tasks": ["gsm8k"], "config": {"limit": 5, "num_fewshot": 8}},
                        ],
                    }
                ],
                "retry_attempts": 0,
            }
        ],
        "tags": {"backend": "nemo-remote"},
    }


async def test_remote_mode_runs_each_benchmark_as_a_service_job(
    hub: httpx.AsyncClient, service: FakeNemoService, fake: FakeServer
) -> None:
    r = await hub.post("/api/v1/evaluations", json=remote_request(service))
    assert r.status_code == 202, r.text
    status = await wait_status(hub, r.json()["request_id"], timeout=60)
    assert status["status"] == "completed", status
    by_name = {x["benchmark_name"]: x for x in status["results"]}
    assert set(by_name) == {"mmlu_pro", "gsm8k"}
    expected = {
        "mmlu_pro": {"acc": 0.42, "acc_stderr": 0.03},
        "gsm8k": {
            "strict_match": 0.6,
            "strict_match_stderr": 0.2,
            "flexible_extract": 0.8,
            "flexible_extract_stderr": 0.18,
        },
    }
    for name, metrics in expected.items():
        res = by_name[name]
        assert res["status"] == "completed", res
        assert res["backend_type"] == "nemo-evaluator" and res["backend_name"] == "nemo-remote"
        assert res["method"] == "generate_until"
        assert {k: res["metrics"][k] for k in metrics} == pytest.approx(metrics)
        assert res["metrics"]["num_samples"] == 5
    # One service job per benchmark, each carrying the model's endpoint, key and the request's params.
    bodies = {b["config"]["type"]: b for b in service.jobs_created()}
    assert set(bodies) == {"mmlu_pro", "gsm8k"}
    for config_type, shots in (("mmlu_pro", 5), ("gsm8k", 8)):
        body = bodies[config_type]
        endpoint = body["target"]["model"]["api_endpoint"]
        assert endpoint["url"] == fake.base_url + "/v1/chat/completions"
        assert endpoint["api_key"] == "model-key"
        params = body["config"]["params"]
        assert params["limit_samples"] == 5 and params["parallelism"] == 2
        assert params["extra"] == {"num_fewshot": shots}
        assert params["temperature"] == 0.1 and params["max_tokens"] == 512
    # The Evaluation records say the service ran them, and which job.
    evals = (await hub.get("/evaluations", params={"experiment_id": status["experiment_id"]})).json()["data"]
    assert len(evals) == 2
    for ev in evals:
        details = ev["metadata"]["backend_details"]
        assert details["mode"] == "remote" and details["job_id"].startswith("eval-")
        assert details["service_url"] == service.base_url


async def test_failed_service_job_fails_the_benchmark_without_retries(
    hub: httpx.AsyncClient, service: FakeNemoService
) -> None:
    service.plans["gsm8k"] = Plan(steps=2, fail_with="Evaluation failed: model endpoint unreachable")
    body = remote_request(service)
    body["evaluations"][0]["retry_attempts"] = 2
    r = await hub.post("/api/v1/evaluations", json=body)
    assert r.status_code == 202, r.text
    # The first terminal status read already carries the error: jobs and runs are read in one snapshot.
    status = await wait_status(hub, r.json()["request_id"], timeout=60)
    by_name = {x["benchmark_name"]: x for x in status["results"]}
    assert by_name["mmlu_pro"]["status"] == "completed"
    failed = by_name["gsm8k"]
    assert failed["status"] == "failed" and failed["attempts"] == 1  # the same on every attempt
    assert "model endpoint unreachable" in failed["error"]
    assert [b["config"]["type"] for b in service.jobs_created()].count("gsm8k") == 1
