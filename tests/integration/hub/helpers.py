"""Shared helpers for Eval Hub and job tests: a scripted fake endpoint whose answers are known,
the app with the local executor running, and polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.benchmarks import PreparedDoc
from llm_research_lab.engine.registry import create_benchmark
from llm_research_lab.server.app import create_app
from llm_research_lab.settings import Settings
from tests.fakes.openai_server import FakeServer, LLRule, Script

MODEL = "gpt-4o-mini"
TERMINAL = {"completed", "failed", "cancelled"}


def prepared_docs(benchmark_id: str, n: int) -> list[PreparedDoc]:
    """The first `n` documents of a catalog benchmark, built 0-shot as the engine builds them."""
    bench = create_benchmark(benchmark_id)
    source = load_catalog().resolver().source(benchmark_id)
    docs = bench.docs(source)
    return [bench.build(docs[i], i, []) for i in range(n)]


def script_mc(script: Script, docs: list[PreparedDoc], right: int) -> None:
    """The model picks the gold answer on the first `right` docs and a wrong one on the rest, so
    accuracy is exactly right / len(docs)."""
    for i, p in enumerate(docs):
        assert p.gold is not None
        pick = p.gold if i < right else (p.gold + 1) % len(p.choices)
        script.ll_rules.append(LLRule(p.prompt, p.requests[pick].continuation, -0.05, greedy=True))


def runtime_env(base_url: str, **extra: str) -> dict[str, str]:
    return {
        "LAB_MODEL_GPT4O_MINI_URL": base_url,
        "LAB_MODEL_GPT4O_MINI_NAME": MODEL,
        "LAB_MODEL_GPT4O_MINI_PATH": "fake-model",
        **extra,
    }


@contextmanager
def fake_server(script: Script) -> Iterator[FakeServer]:
    server = FakeServer(script)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def hub_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"job_heartbeat_s": 0.2, "max_concurrent_jobs": 4, **changes})


@asynccontextmanager
async def running_app(settings: Settings, environ: Mapping[str, str]) -> AsyncIterator[FastAPI]:
    app = create_app(settings, run_migrations=False, environ=environ)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as c:
        yield c


async def wait_status(
    client: httpx.AsyncClient, request_id: str, wanted: set[str] = TERMINAL, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = await client.get(f"/api/v1/evaluations/{request_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in wanted:
            return body
        assert time.monotonic() < deadline, f"still {body['status']} after {timeout}s: {body}"
        await asyncio.sleep(0.05)


async def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
