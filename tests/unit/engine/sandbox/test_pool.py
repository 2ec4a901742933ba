from __future__ import annotations

import asyncio
import time

import pytest

from llm_research_lab.engine.sandbox import Sandbox, SandboxLimits

SLEEPER = "import time\ntime.sleep(0.6)\nprint('done')"


async def test_pool_bounds_concurrency_and_keeps_the_loop_free() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    started = time.monotonic()
    async with Sandbox(SandboxLimits(timeout_s=10), max_workers=2) as sandbox:
        results = await asyncio.gather(*(sandbox.execute(SLEEPER) for _ in range(4)))
    elapsed = time.monotonic() - started
    tick_task.cancel()
    assert [r.stdout_tail for r in results] == ["done\n"] * 4
    # Four 0.6 s programs on two workers need two rounds; unbounded they would take one.
    assert elapsed >= 1.2
    assert elapsed < 6
    assert ticks >= 20, "the event loop was blocked while programs ran"


async def test_execute_timeout_overrides_the_pool_default() -> None:
    async with Sandbox(SandboxLimits(timeout_s=30), max_workers=1) as sandbox:
        result = await sandbox.execute("while True:\n    pass", timeout_s=0.5)
    assert result.status == "timeout"
    assert result.wall_s < 2.5


def test_pool_rejects_zero_workers() -> None:
    with pytest.raises(ValueError):
        Sandbox(max_workers=0)


def test_pool_defaults_to_the_cpu_count() -> None:
    with Sandbox() as sandbox:
        assert sandbox.max_workers >= 1
        assert sandbox.limits == SandboxLimits()
