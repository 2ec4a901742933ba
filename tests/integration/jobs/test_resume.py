"""A job interrupted by a crash resumes from the sample ledger: no sample lost, none duplicated,
and no document whose sample was persisted is ever sent to the model again."""

from __future__ import annotations

import time
from typing import Any

import httpx

from llm_research_lab.jobs import get_executor
from llm_research_lab.settings import Settings
from tests.fakes.openai_server import FakeServer, Script
from tests.integration.hub.helpers import (
    MODEL,
    client_for,
    hub_settings,
    prepared_docs,
    running_app,
    runtime_env,
    script_mc,
    wait_status,
    wait_until,
)

N = 60


def _prompts(body: Any) -> list[str]:
    prompt = body.get("prompt") if isinstance(body, dict) else None
    if isinstance(prompt, list):
        return [p for p in prompt if isinstance(p, str)]
    return [prompt] if isinstance(prompt, str) else []


async def _ledger_ids(client: httpx.AsyncClient, rid: str) -> list[int]:
    r = await client.get(f"/api/v1/evaluations/{rid}/samples", params={"limit": 500})
    assert r.status_code == 200
    return [s["doc_id"] for s in r.json()["data"]]


async def test_crash_mid_job_resumes_exactly_once(
    settings: Settings, script: Script, fake: FakeServer
) -> None:
    docs = prepared_docs("arc_easy", N)
    script_mc(script, docs, right=45)
    script.latency_ms = 40
    cfg = hub_settings(settings, max_concurrent_jobs=1)
    env = runtime_env(fake.base_url)
    body = {"model_name": MODEL, "limit": N, "num_fewshot": 0, "retry_attempts": 0}

    async with running_app(cfg, env) as app, client_for(app) as client:
        r = await client.post("/api/v1/evaluations/benchmarks/lm_evaluation_harness/arc_easy", json=body)
        assert r.status_code == 202
        rid = r.json()["request_id"]

        async def some_done() -> bool:
            return len(await _ledger_ids(client, rid)) >= 10

        await wait_until(some_done)
        executor = get_executor(app.state.lab)
        assert executor is not None
        await executor.stop(graceful=False)  # the crash: the job row stays 'running'
        crashed_at = time.monotonic()
        before = await _ledger_ids(client, rid)
        status = (await client.get(f"/api/v1/evaluations/{rid}")).json()
        assert status["status"] == "running" and status["results"][0]["status"] == "running"
    assert 10 <= len(before) < N

    async with running_app(cfg, env) as app, client_for(app) as client:
        status = await wait_status(client, rid)
        after = await _ledger_ids(client, rid)
    assert status["status"] == "completed", status
    (result,) = status["results"]
    assert result["metrics"]["acc"] == 45 / N
    assert result["attempts"] == 2
    assert sorted(after) == list(range(N))  # none lost, none duplicated

    # Which documents did the restarted server ask about? Never one already in the ledger.
    contexts = {p.prompt: p.doc_id for p in docs}
    resent: set[int] = set()
    for req in script.requests:
        if req.path != "/v1/completions" or req.received_at <= crashed_at:
            continue
        for prompt in _prompts(req.json):
            resent.update(i for ctx, i in contexts.items() if prompt.startswith(ctx))
    assert resent, "the restarted server sent nothing"
    assert not resent & set(before)
    assert resent == set(range(N)) - set(before)
