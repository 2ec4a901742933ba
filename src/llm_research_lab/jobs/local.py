"""The `local` executor: an asyncio supervisor inside the server process.

It claims queued job rows up to `settings.max_concurrent_jobs`, runs each attempt as a task with
the job's timeout, heartbeats every `settings.job_heartbeat_s`, stops cancelled jobs within one
heartbeat (at once when cancelled through this process), and re-queues jobs whose heartbeat went
stale (a crashed or killed server) so they resume from the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.jobs import store
from llm_research_lab.jobs.execute import Attempt, JobEnv
from llm_research_lab.jobs.store import Outcome
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import Job
from llm_research_lab.server.state import AppState

log = logging.getLogger("llm_research_lab.jobs")

STALE_HEARTBEATS = 3  # a job is orphaned after this many missed heartbeats
POLL_S = 0.5


class LocalExecutor:
    name = "local"

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.settings = state.settings
        self.sessionmaker = state.sessionmaker
        self.worker_id = f"local:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.max_jobs = max(1, state.settings.max_concurrent_jobs)
        self.heartbeat_s = max(0.05, state.settings.job_heartbeat_s)
        self.tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.cancels: dict[uuid.UUID, asyncio.Event] = {}
        self.memory: dict[uuid.UUID, int] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    # ----------------------------------------------------------------------- control

    @property
    def running(self) -> bool:
        return self._supervisor is not None and not self._supervisor.done()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._supervisor = asyncio.create_task(self._supervise(), name="lab-local-executor")

    def notify(self) -> None:
        """Look for queued jobs now (called after a commit that enqueued some)."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def notify_after_commit(self, session: AsyncSession) -> None:
        event.listen(session.sync_session, "after_commit", lambda _s: self.notify(), once=True)

    def cancel(self, job_ids: Iterable[uuid.UUID]) -> None:
        """Stop these jobs' in-flight requests now (their rows are already marked cancelled)."""
        for job_id in job_ids:
            ev = self.cancels.get(job_id)
            if ev is not None:
                ev.set()

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop the supervisor and every running attempt. Graceful: our running jobs go back to
        the queue at once. Not graceful (a simulated crash): rows stay 'running' until their
        heartbeat goes stale, exactly as after kill -9."""
        if self._stopping:
            return
        self._stopping = True
        tasks = [t for t in [self._supervisor, *self.tasks.values()] if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._supervisor = None
        if graceful:
            with contextlib.suppress(Exception):
                await store.requeue_stale(self.sessionmaker, utcnow(), worker_id=self.worker_id)

    # ----------------------------------------------------------------------- metrics

    @property
    def in_flight(self) -> int:
        return len(self.tasks)

    @property
    def memory_bytes(self) -> int:
        return sum(self.memory.values())

    # ----------------------------------------------------------------------- loop

    async def _supervise(self) -> None:
        assert self._wake is not None
        await self._sweep()
        last_beat = asyncio.get_running_loop().time()
        while True:
            try:
                await self._fill()
            except Exception:  # the DB may be briefly unavailable; try again next tick
                log.exception("executor: claiming jobs failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(POLL_S, self.heartbeat_s))
            self._wake.clear()
            now = asyncio.get_running_loop().time()
            if now - last_beat >= self.heartbeat_s:
                last_beat = now
                try:
                    cancelled = await store.heartbeat(self.sessionmaker, list(self.tasks))
                    self.cancel(cancelled)
                    await self._sweep()
                except Exception:
                    log.exception("executor: heartbeat failed")

    async def _sweep(self) -> None:
        stale_before = utcnow() - timedelta(seconds=STALE_HEARTBEATS * self.heartbeat_s)
        if await store.requeue_stale(self.sessionmaker, stale_before, exclude=list(self.tasks)):
            self.notify()

    async def _fill(self) -> None:
        while len(self.tasks) < self.max_jobs and not self._stopping:
            job = await store.claim_next(self.sessionmaker, self.worker_id)
            if job is None:
                return
            cancel = asyncio.Event()
            self.cancels[job.id] = cancel
            self.tasks[job.id] = asyncio.create_task(self._run(job, cancel), name=f"job-{job.id}")

    def _env(self) -> JobEnv:
        extras: dict[str, Any] = self.state.extras
        return JobEnv(
            self.sessionmaker,
            self.settings,
            dataset_rows=extras.get("dataset_rows"),
            environ=extras.get("environ"),
        )

    async def _run(self, job: Job, cancel: asyncio.Event) -> None:
        async def progress(done: int, total: int) -> None:
            await store.set_progress(self.sessionmaker, job.id, done, total)

        def track(n: int) -> None:
            self.memory[job.id] = n

        try:
            try:
                async with asyncio.timeout(job.timeout_s):
                    outcome = await Attempt(self._env(), job, cancel, progress, track).run()
            except TimeoutError:
                minutes = (job.timeout_s or 0) / 60
                outcome = Outcome(status="timed_out", error=f"Timed out after {minutes:g} minutes")
            except asyncio.CancelledError:
                if self._stopping:
                    raise
                outcome = Outcome(status="cancelled", error="Cancelled")
            except Exception as exc:  # the executor boundary: any bug fails the job, not the server
                log.exception("job %s failed", job.id)
                outcome = Outcome(status="failed", error=f"{type(exc).__name__}: {exc}", retryable=True)
            if not self._stopping:
                await store.finish(self.sessionmaker, job.id, self.worker_id, outcome)
        finally:
            self.tasks.pop(job.id, None)
            self.cancels.pop(job.id, None)
            self.memory.pop(job.id, None)
            self.notify()


def get_executor(state: AppState) -> LocalExecutor | None:
    executor = state.extras.get("executor")
    return executor if isinstance(executor, LocalExecutor) else None


def install_executor(state: AppState) -> LocalExecutor:
    """Create the configured executor and hook it into the app's lifespan."""
    if state.settings.executor != "local":
        raise ValueError(
            f"executor {state.settings.executor!r} is not available in this build; use LAB_EXECUTOR=local"
        )
    executor = LocalExecutor(state)
    state.extras["executor"] = executor

    async def start(_state: AppState) -> None:
        await executor.start()

    async def stop(_state: AppState) -> None:
        await executor.stop(graceful=True)

    state.extras.setdefault("startup_hooks", []).append(start)
    state.extras.setdefault("shutdown_hooks", []).append(stop)
    return executor
