"""A bounded pool of sandboxes with an asyncio API."""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import TracebackType

from llm_research_lab.engine.sandbox.runner import SandboxLimits, SandboxResult, execute


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Sandbox:
    """Runs untrusted programs, at most ``max_workers`` at a time, without blocking the event loop.

    Each :meth:`execute` gets a fresh jail (see :mod:`.runner`).  Waiting on a child process is
    done in a worker thread: ``Popen`` without ``preexec_fn`` is safe from threads, and the thread
    count is the concurrency bound.  Cancelling an ``execute`` await does not stop the program
    early; it still ends at its own timeout, which bounds the leftover work.
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        max_workers: int | None = None,
        env: dict[str, str] | None = None,
        guard: bool = True,
    ) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.limits = limits or SandboxLimits()
        self.max_workers = max_workers or _cpu_count()
        self._env = dict(env or {})
        self._guard = guard
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="sandbox")

    async def execute(self, program: str, timeout_s: float | None = None) -> SandboxResult:
        """Run ``program`` in its own sandbox; ``timeout_s`` overrides the pool's default."""
        limits = self.limits if timeout_s is None else replace(self.limits, timeout_s=timeout_s)
        call = functools.partial(execute, program, limits, env=self._env, guard=self._guard)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def close(self) -> None:
        """Drop queued programs and wait for the running ones (bounded by their timeouts)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
