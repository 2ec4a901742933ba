"""Component health checks. Domains register theirs on the app state at start-up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text

from llm_research_lab.server.state import AppState

Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    check: Check
    critical: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    healthy: bool
    critical: bool
    latency_ms: float
    error: str | None


def components(state: AppState) -> list[Component]:
    comps: list[Component] = state.extras.setdefault("health_components", [])
    return comps


def register(state: AppState, name: str, check: Check, *, critical: bool) -> None:
    comps = [c for c in components(state) if c.name != name]
    comps.append(Component(name, check, critical))
    state.extras["health_components"] = comps


def install_default_checks(state: AppState) -> None:
    async def database() -> None:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def cache() -> None:
        return None  # in-memory until a shared cache (Redis) is configured

    register(state, "database", database, critical=True)
    register(state, "cache", cache, critical=False)
    # "storage" (the configured object store) is registered by server/objectstore.py.


async def run_checks(state: AppState, timeout_s: float = 3.0) -> list[Outcome]:
    async def one(c: Component) -> Outcome:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(c.check(), timeout_s)
            ok, err = True, None
        except Exception as exc:  # a failing dependency is data here, not a crash
            ok, err = False, f"{type(exc).__name__}: {exc}"[:300]
        return Outcome(c.name, ok, c.critical, (time.perf_counter() - start) * 1000, err)

    return list(await asyncio.gather(*(one(c) for c in components(state))))
