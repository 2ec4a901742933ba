"""A job's `timeout_minutes` and `retry_attempts`, through the Eval Hub API and the local executor:
a job past its deadline is stopped and reported timed out (not retried); a benchmark whose
endpoint keeps failing trips the failure budget and is retried up to `retry_attempts` times, then
fails with the budget's error; a deterministic 401 fails the job at once, without retries."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from llm_research_lab.jobs import get_executor
from llm_research_lab.server.db.models import Job
from llm_research_lab.settings import Settings
from tests.fakes.openai_server import FakeServer, Fault, Script
from tests.integration.hub.helpers import (
    MODEL,
    client_for,
    hub_settings,
    prepared_docs,
    running_app,
    runtime_env,
    script_mc,
    wait_status,
)

URL = "/api/v1/evaluations/benchmarks/lm_evaluation_harness/arc_easy"
BUDGET = 25  # FailureBudget.max_consecutive: consecutive failed requests that end an attempt


async def _probed(app: FastAPI) -> None:
    """Wait for the start-up probe of the runtime model, so injected faults only hit the job."""
    task = app.state.lab.extras.get("runtime_probe_task")
    if task is not None:
        await task


async def _job(app: FastAPI, request_id: str) -> Job:
    async with app.state.lab.sessionmaker() as session:
        stmt = select(Job).where(Job.request_id == uuid.UUID(request_id))
        job: Job = (await session.execute(stmt)).scalar_one()
        return job


def _body(**changes: Any) -> dict[str, Any]:
    return {"model_name": MODEL, "limit": 20, "num_fewshot": 0, **changes}


async def test_timeout_stops_the_job_and_is_not_retried(
    settings: Settings, script: Script, fake: FakeServer
) -> None:
    script.latency_ms = 300  # 20 docs x 4 choices at 2 in flight: ~12 s, far past the deadline
    async with running_app(hub_settings(settings), runtime_env(fake.base_url)) as app:
        await _probed(app)
        executor = get_executor(app.state.lab)
        assert executor is not None
        # Hold the executor so the job's deadline can be shortened before it is claimed: the API
        # takes whole minutes (timeout_minutes >= 1), the executor enforces the row's seconds.
        await executor.stop(graceful=True)
        async with client_for(app) as client:
            r = await client.post(
                URL,
                json=_body(timeout_minutes=2, retry_attempts=2, model_configuration={"max_concurrency": 2}),
            )
            assert r.status_code == 202, r.text
            rid = r.json()["request_id"]
            job = await _job(app, rid)
            assert (job.status, job.timeout_s, job.max_attempts) == ("queued", 120.0, 3)
            async with app.state.lab.sessionmaker() as session, session.begin():
                row = await session.get(Job, job.id)
                assert row is not None
                row.timeout_s = 0.75
            started = time.monotonic()
            await executor.start()
            status = await wait_status(client, rid, timeout=30)
            elapsed = time.monotonic() - started
            sent = script.count("/v1/completions")
            await asyncio.sleep(0.5)  # nothing is sent once the attempt is stopped
            assert script.count("/v1/completions") == sent
    assert status["status"] == "failed", status
    (result,) = status["results"]
    assert result["status"] == "timed_out"
    assert result["error"].startswith("Timed out after 0.0125 minutes"), result["error"]
    assert result["attempts"] == 1  # a timeout is final: retry_attempts does not apply
    assert 0.75 <= elapsed < 6.0
    assert 0 < sent < 80  # the job was stopped part way


@pytest.mark.parametrize("retry_attempts", [0, 2])
async def test_failing_endpoint_is_retried_then_fails_with_the_budget_error(
    settings: Settings, script: Script, fake: FakeServer, retry_attempts: int
) -> None:
    async with running_app(hub_settings(settings), runtime_env(fake.base_url)) as app:
        await _probed(app)
        script.add_fault(Fault(status=500, path="/v1/completions", times=-1, body="backend exploded"))
        async with client_for(app) as client:
            r = await client.post(URL, json=_body(retry_attempts=retry_attempts, timeout_minutes=5))
            assert r.status_code == 202, r.text
            status = await wait_status(client, r.json()["request_id"], timeout=60)
            samples = await client.get(f"/api/v1/evaluations/{r.json()['request_id']}/samples")
    assert status["status"] == "failed", status
    (result,) = status["results"]
    assert result["status"] == "failed"
    assert result["attempts"] == retry_attempts + 1
    error = result["error"]
    assert error is not None and error.startswith("FailureBudgetExceeded:"), status
    assert f"{BUDGET} consecutive failed requests" in error
    assert "500" in error and "backend exploded" in error
    # every attempt spent its own budget against the endpoint
    assert script.count("/v1/completions") >= BUDGET * (retry_attempts + 1)
    assert samples.json()["pagination"]["total"] == 0


async def test_retry_after_the_endpoint_recovers_completes_exactly(
    settings: Settings, script: Script, fake: FakeServer
) -> None:
    docs = prepared_docs("arc_easy", 20)
    script_mc(script, docs, right=15)
    async with running_app(hub_settings(settings), runtime_env(fake.base_url)) as app:
        await _probed(app)
        # Enough 500s to trip the first attempt's budget; the second attempt finds the endpoint well.
        script.add_fault(Fault(status=500, path="/v1/completions", times=BUDGET + 5))
        async with client_for(app) as client:
            r = await client.post(URL, json=_body(retry_attempts=1))
            assert r.status_code == 202, r.text
            status = await wait_status(client, r.json()["request_id"], timeout=60)
    assert status["status"] == "completed", status
    (result,) = status["results"]
    assert result["attempts"] == 2
    assert result["error"] is None
    assert result["metrics"]["acc"] == 15 / 20
    assert result["samples"] == 20


async def test_deterministic_401_is_not_retried(settings: Settings, script: Script, fake: FakeServer) -> None:
    async with running_app(hub_settings(settings), runtime_env(fake.base_url)) as app:
        await _probed(app)
        script.add_fault(Fault(status=401, path="/v1/completions", times=-1, body="invalid api key"))
        async with client_for(app) as client:
            r = await client.post(URL, json=_body(retry_attempts=3))
            assert r.status_code == 202, r.text
            status = await wait_status(client, r.json()["request_id"], timeout=30)
    assert status["status"] == "failed", status
    (result,) = status["results"]
    assert result["status"] == "failed"
    assert result["attempts"] == 1  # neither the job nor any request was retried
    assert "401" in result["error"] and "invalid api key" in result["error"]
    bodies = [r.body for r in script.requests if r.path == "/v1/completions"]
    assert bodies and len(bodies) == len(set(bodies))  # no request was sent twice
