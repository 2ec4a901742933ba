"""Remote mode of the NeMo Evaluator backend against the loopback fake service speaking the v1 REST
protocol: the job request sent, status polling and progress, results mapping, service-side failure and
cancel, our cancel and timeout (the remote job is cancelled too), and the retryable / not-retryable
split of service errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.backends import (
    BackendError,
    BackendProcessError,
    BackendTask,
    BackendTimeoutError,
)
from llm_research_lab.engine.backends.nemo import NemoEvaluatorBackend
from llm_research_lab.engine.backends.nemo_remote import service_url
from llm_research_lab.engine.models import GenerationParams, ModelSpec
from llm_research_lab.engine.types import ScoredSample
from tests.fakes.nemo_service import FakeNemoService, Plan, task_result

MODEL_URL = "http://model.internal:8000/v1"
GSM8K = {"gsm8k": task_result("exact_match", strict=(0.4, 0.2), flexible=(0.6, 0.1))}


class MemorySink:
    def __init__(self) -> None:
        self.recorded: list[ScoredSample] = []

    async def completed(self, benchmark: str) -> Mapping[int, ScoredSample]:
        return {}

    async def record(self, samples: Sequence[ScoredSample]) -> None:
        self.recorded.extend(samples)


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    async def __call__(self, benchmark: str, done: int, total: int, running: Mapping[str, float]) -> None:
        self.calls.append((benchmark, done, total))


@pytest.fixture
def service() -> Iterator[FakeNemoService]:
    srv = FakeNemoService()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def spec(**kw: Any) -> ModelSpec:
    return ModelSpec(
        "openai-compatible",
        "meta/llama-3.1-8b-instruct",
        base_url=MODEL_URL,
        api_key_env="MODEL_KEY",
        generation=GenerationParams(max_tokens=256, temperature=0.1, top_p=0.95),
        **kw,
    )


def backend(
    service: FakeNemoService, environ: Mapping[str, str] | None = None, **cfg: Any
) -> NemoEvaluatorBackend:
    config = {
        "mode": "remote",
        "endpoint": "http://127.0.0.1",
        "port": service.port,
        "poll_interval_seconds": 0.02,
        **cfg,
    }
    env = {"MODEL_KEY": "model-secret", **(environ or {})}
    return NemoEvaluatorBackend(config, resolver=load_catalog().resolver(), environ=env)


# --------------------------------------------------------------------------- completed job


async def test_completed_job_maps_metrics_and_sends_the_job_spec(service: FakeNemoService) -> None:
    service.plans["gsm8k"] = Plan(tasks=GSM8K, steps=4)
    progress = Progress()
    result = await backend(service, parallelism=3, temperature=0.0).run(
        spec(), BackendTask("gsm8k", num_fewshot=8, limit=5), MemorySink(), progress=progress
    )
    assert result.status == "completed" and result.backend == "nemo-evaluator"
    assert result.metrics == {"strict": 0.4, "strict_stderr": 0.2, "flexible": 0.6, "flexible_stderr": 0.1}
    assert result.method == "generate_until"
    assert result.num_docs == 5 and result.num_scored == 5
    (body,) = service.jobs_created()
    assert body["namespace"] == "default"
    assert body["target"] == {
        "type": "model",
        "model": {
            "api_endpoint": {
                "url": "http://model.internal:8000/v1/chat/completions",
                "model_id": "meta/llama-3.1-8b-instruct",
                "format": "openai",
                "api_key": "model-secret",
            }
        },
    }
    assert body["config"] == {
        "type": "gsm8k",
        "params": {
            "limit_samples": 5,
            "parallelism": 3,
            "temperature": 0.0,  # the config wins over the model's generation settings
            "top_p": 0.95,
            "max_tokens": 256,
            "extra": {"num_fewshot": 8},
        },
    }
    job_id = result.details["job_id"]
    assert job_id.startswith("eval-")
    assert result.details["mode"] == "remote"
    assert result.details["service_url"] == service.base_url
    assert result.details["results"]["tasks"] == GSM8K
    assert len(service.calls("GET", f"/{job_id}/status")) == 4
    assert len(service.calls("GET", f"/{job_id}/results")) == 1
    assert not service.calls("POST", "/cancel")
    # Progress starts at 0 of the limit, grows with the service's samples_processed, ends at 5 of 5.
    dones = [d for _, d, _ in progress.calls]
    assert dones[0] == 0 and dones[-1] == 5 and dones == sorted(dones) and len(set(dones)) >= 3
    assert {t for _, _, t in progress.calls} == {5}
    assert {b for b, _, _ in progress.calls} == {"gsm8k"}


async def test_config_type_namespace_and_limit_from_config(service: FakeNemoService) -> None:
    service.plans["lm-harness-gsm8k"] = Plan(tasks=GSM8K, steps=1, status_upper=False)
    result = await backend(
        service, config_type="lm-harness-gsm8k", namespace="team-a", limit_samples=7, max_retries=2,
        request_timeout=60, model_endpoint="http://other:9000/v1/completions",
    ).run(spec(), BackendTask("gsm8k"), MemorySink())  # fmt: skip
    assert result.metrics["strict"] == 0.4
    (body,) = service.jobs_created()
    assert body["namespace"] == "team-a"
    assert body["config"]["type"] == "lm-harness-gsm8k"
    params = body["config"]["params"]
    assert params["limit_samples"] == 7 and params["max_retries"] == 2 and params["request_timeout"] == 60
    assert "extra" not in params and "parallelism" not in params
    assert body["target"]["model"]["api_endpoint"]["url"] == "http://other:9000/v1/completions"


async def test_groups_and_status_from_job_details(service: FakeNemoService) -> None:
    """A service whose /status carries no `status` is asked for the job details instead."""
    groups = {"mmlu_pro": task_result("acc", acc=(0.3, 0.05))}
    service.plans["mmlu_pro"] = Plan(tasks={}, groups=groups, steps=2, status_in_status=False)
    result = await backend(service).run(spec(), BackendTask("mmlu_pro", limit=4), MemorySink())
    assert result.metrics == {"acc": 0.3, "acc_stderr": 0.05}
    job_id = result.details["job_id"]
    assert len(service.calls("GET", f"/v1/evaluation/jobs/{job_id}")) == 2


async def test_service_api_key_is_sent_as_bearer_token() -> None:
    srv = FakeNemoService(api_key="svc-token")
    srv.start()
    try:
        be = backend(srv, {"NEMO_SVC_KEY": "svc-token"}, service_api_key_env="NEMO_SVC_KEY")
        result = await be.run(spec(), BackendTask("gsm8k", limit=2), MemorySink())
        assert result.status == "completed"
        assert srv.requests and all(r.headers["authorization"] == "Bearer svc-token" for r in srv.requests)
        # Without the token the service refuses: a 401 is not retried.
        with pytest.raises(BackendError) as info:
            await backend(srv).run(spec(), BackendTask("gsm8k", limit=2), MemorySink())
        assert not isinstance(info.value, BackendProcessError)
        assert "401" in str(info.value)
    finally:
        srv.stop()


async def test_missing_env_vars_fail_before_any_request(service: FakeNemoService) -> None:
    be = NemoEvaluatorBackend(
        {"mode": "remote", "endpoint": "http://127.0.0.1", "port": service.port},
        resolver=load_catalog().resolver(),
        environ={},
    )
    with pytest.raises(BackendError, match="MODEL_KEY"):
        await be.run(spec(), BackendTask("gsm8k", limit=2), MemorySink())
    with pytest.raises(BackendError, match="NOPE"):
        await backend(service, service_api_key_env="NOPE").run(spec(), BackendTask("gsm8k"), MemorySink())
    assert service.requests == []


# --------------------------------------------------------------------------- failure, cancel, timeout


async def test_failed_job_is_a_backend_error_with_the_service_message(service: FakeNemoService) -> None:
    service.plans["gsm8k"] = Plan(steps=2, fail_with="Model endpoint returned 404: model not found")
    with pytest.raises(BackendError, match="Model endpoint returned 404: model not found") as info:
        await backend(service).run(spec(), BackendTask("gsm8k", limit=3), MemorySink())
    assert not isinstance(info.value, BackendProcessError)  # the same on every attempt
    assert not service.calls("GET", "/results")


async def test_job_cancelled_on_the_service_gives_a_cancelled_result(service: FakeNemoService) -> None:
    service.plans["gsm8k"] = Plan(hang=True, cancelled_by_service=True)
    result = await backend(service).run(spec(), BackendTask("gsm8k", limit=3), MemorySink())
    assert result.status == "cancelled" and result.metrics == {}


@pytest.mark.parametrize("cancel_route", [True, False])
async def test_cancel_event_cancels_the_remote_job(cancel_route: bool) -> None:
    srv = FakeNemoService(cancel_route=cancel_route)
    srv.plans["gsm8k"] = Plan(hang=True)
    srv.start()
    try:
        cancel = asyncio.Event()
        run = asyncio.create_task(
            backend(srv).run(spec(), BackendTask("gsm8k", limit=3), MemorySink(), cancel=cancel)
        )
        while len(srv.calls("GET", "/status")) < 3:
            await asyncio.sleep(0.01)
        cancel.set()
        result = await asyncio.wait_for(run, 5)
        assert result.status == "cancelled" and result.backend == "nemo-evaluator"
        assert len(srv.jobs_created()) == 1
        job_id = "eval-000001FAKE"  # the first job on a fresh service
        assert len(srv.calls("POST", f"/{job_id}/cancel")) == 1
        # Without a cancel route the job is deleted instead.
        assert len(srv.calls("DELETE", f"/jobs/{job_id}")) == (0 if cancel_route else 1)
    finally:
        srv.stop()


async def test_timeout_cancels_the_remote_job(service: FakeNemoService) -> None:
    service.plans["gsm8k"] = Plan(hang=True)
    with pytest.raises(BackendTimeoutError, match="time limit"):
        await backend(service, timeout_seconds=0.3).run(spec(), BackendTask("gsm8k", limit=3), MemorySink())
    assert len(service.calls("POST", "/cancel")) == 1
    assert len(service.calls("GET", "/status")) >= 3


# --------------------------------------------------------------------------- service errors


async def test_server_error_on_create_is_retryable(service: FakeNemoService) -> None:
    service.script.fail_next(1, 503, path="/v1/evaluation/jobs")
    with pytest.raises(BackendProcessError, match="503") as info:
        await backend(service).run(spec(), BackendTask("gsm8k", limit=3), MemorySink())
    assert "injected HTTP 503" in info.value.stderr_tail


async def test_rejected_job_is_not_retryable_and_names_the_problem(service: FakeNemoService) -> None:
    service.known_types = {"gsm8k"}
    with pytest.raises(BackendError, match="unsupported evaluation type 'nope'") as info:
        await backend(service).run(spec(), BackendTask("nope", limit=3), MemorySink())
    assert not isinstance(info.value, BackendProcessError)
    assert "422" in str(info.value)
    assert not service.calls("GET")


async def test_fake_service_rejects_a_malformed_job(service: FakeNemoService) -> None:
    """The fake checks the shape the real service requires, so the client's body is really checked."""
    async with httpx.AsyncClient(base_url=service.base_url) as client:
        r = await client.post("/v1/evaluation/jobs", json={"target": {"type": "model", "model": {}}})
        assert r.status_code == 422
        locs = {tuple(d["loc"]) for d in r.json()["detail"]}
        assert locs == {
            ("body", "target", "model", "api_endpoint", "url"),
            ("body", "target", "model", "api_endpoint", "model_id"),
            ("body", "config", "type"),
        }
        r = await client.get("/v1/evaluation/jobs/eval-missing/status")
        assert r.status_code == 404


async def test_unreachable_service_is_retryable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    be = NemoEvaluatorBackend(
        {"mode": "remote", "endpoint": "127.0.0.1", "port": port},
        resolver=load_catalog().resolver(),
        environ={"MODEL_KEY": "k"},
    )
    with pytest.raises(BackendProcessError, match="unreachable"):
        await be.run(spec(), BackendTask("gsm8k", limit=3), MemorySink())


async def test_transient_poll_errors_are_tolerated(service: FakeNemoService) -> None:
    service.plans["gsm8k"] = Plan(tasks=GSM8K, steps=2)
    # Job ids are sequential on a fresh service: the first job's status polls fail twice.
    service.script.fail_next(2, 502, path="/v1/evaluation/jobs/eval-000001FAKE/status")
    result = await backend(service).run(spec(), BackendTask("gsm8k", limit=4), MemorySink())
    assert result.status == "completed" and result.metrics["strict"] == 0.4
    assert result.details["job_id"] == "eval-000001FAKE"
    assert len(service.calls("GET", "/status")) == 4


async def test_persistent_poll_errors_give_up_and_cancel(service: FakeNemoService) -> None:
    service.plans["gsm8k"] = Plan(hang=True)
    service.script.fail_next(-1, 500, path="/v1/evaluation/jobs/eval-000001FAKE/status")
    with pytest.raises(BackendProcessError, match="500"):
        await backend(service).run(spec(), BackendTask("gsm8k", limit=4), MemorySink())
    assert len(service.calls("GET", "/status")) == 5
    assert len(service.calls("POST", "/eval-000001FAKE/cancel")) == 1


def test_service_url_forms() -> None:
    assert service_url({"endpoint": "nemo.example.com"}) == "http://nemo.example.com:3825"
    assert service_url({"endpoint": "nemo.example.com", "port": 443, "scheme": "https"}) == (
        "https://nemo.example.com:443"
    )
    assert (
        service_url({"endpoint": "https://nemo.example.com/", "port": 8443})
        == "https://nemo.example.com:8443"
    )
    assert service_url({"endpoint": "http://nemo:9000", "port": 3825}) == "http://nemo:9000"
    assert service_url({"endpoint": "http://gw/evaluator", "port": 80}) == "http://gw:80/evaluator"
    with pytest.raises(BackendError, match="endpoint"):
        service_url({})
    with pytest.raises(BackendError, match="scheme"):
        service_url({"endpoint": "h", "scheme": "ftp"})
