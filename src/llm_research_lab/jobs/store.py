"""All SQL of the job lifecycle. Every function is one short transaction of its own (executor
side) or works inside the caller's session (request side: enqueue, cancel)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llm_research_lab.errors import InvalidTransitionError
from llm_research_lab.schemas.experiments import TERMINAL_RUN_STATUSES, ExperimentStatus, RunStatus
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import Experiment, Job, Run
from llm_research_lab.server.evaluations.service import EvaluationService
from llm_research_lab.server.experiments.state import EXPERIMENT_TRANSITIONS
from llm_research_lab.server.runs.service import RunService

log = logging.getLogger("llm_research_lab.jobs")

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled", "timed_out"]
TERMINAL_JOB_STATUSES = frozenset({"completed", "failed", "cancelled", "timed_out"})


@dataclass(slots=True)
class Outcome:
    """What one attempt of a job ended with."""

    status: Literal["completed", "failed", "cancelled", "timed_out"]
    evaluations: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retryable: bool = False


def _transition(run: Run, target: RunStatus, error: str | None = None) -> bool:
    try:
        RunService.transition(run, target, error=error)
    except InvalidTransitionError:
        return False
    return True


# --------------------------------------------------------------------------- request side


def new_job(
    run: Run,
    *,
    kind: str,
    spec: dict[str, Any],
    owner_id: uuid.UUID,
    request_id: uuid.UUID | None = None,
    max_attempts: int = 1,
    timeout_s: float | None = None,
    total: int = 0,
) -> Job:
    """A queued job for `run`; the run moves pending -> queued."""
    _transition(run, RunStatus.QUEUED)
    return Job(
        id=uuid.uuid4(),
        run_id=run.id,
        experiment_id=run.experiment_id,
        request_id=request_id,
        kind=kind,
        spec=spec,
        status="queued",
        attempts=0,
        max_attempts=max(1, max_attempts),
        timeout_s=timeout_s,
        progress_done=0,
        progress_total=total,
        owner_id=owner_id,
        cancel_requested=False,
        result={},
    )


async def cancel_jobs(
    session: AsyncSession, jobs: Iterable[Job], reason: str = "Cancelled by user"
) -> list[uuid.UUID]:
    """Mark unfinished jobs (and their runs) cancelled; returns the ids to stop in flight."""
    stopped: list[uuid.UUID] = []
    now = utcnow()
    for job in jobs:
        if job.status in TERMINAL_JOB_STATUSES:
            continue
        job.status = "cancelled"
        job.cancel_requested = True
        job.finished_at = now
        job.error = reason
        job.updated_at = now
        run = await session.get(Run, job.run_id)
        if run is not None:
            _transition(run, RunStatus.CANCELLED, error=reason)
        stopped.append(job.id)
    await session.flush()
    return stopped


async def settle_experiment(session: AsyncSession, experiment_id: uuid.UUID) -> None:
    """When every run of a (hub) experiment is finished, the experiment is completed or failed."""
    exp = await session.get(Experiment, experiment_id)
    if exp is None or exp.status not in (ExperimentStatus.RUNNING.value, ExperimentStatus.PAUSED.value):
        return
    statuses = [
        s for (s,) in (await session.execute(select(Run.status).where(Run.experiment_id == exp.id))).all()
    ]
    if not statuses or any(RunStatus(s) not in TERMINAL_RUN_STATUSES for s in statuses):
        return
    target = (
        ExperimentStatus.COMPLETED
        if all(s == RunStatus.COMPLETED.value for s in statuses)
        else ExperimentStatus.FAILED
    )
    if target in EXPERIMENT_TRANSITIONS[ExperimentStatus(exp.status)]:
        now = utcnow()
        exp.status = target.value
        exp.completed_at = now
        exp.updated_at = now
    await session.flush()


# --------------------------------------------------------------------------- executor side


async def claim_next(
    sessionmaker: async_sessionmaker[AsyncSession], worker_id: str, kinds: Sequence[str] | None = None
) -> Job | None:
    """Take the oldest queued job (compare-and-set on status, so two executors never share one)."""
    async with sessionmaker() as session, session.begin():
        stmt = select(Job.id).where(Job.status == "queued").order_by(Job.created_at, Job.id).limit(8)
        if kinds is not None:
            stmt = stmt.where(Job.kind.in_(list(kinds)))
        for (job_id,) in (await session.execute(stmt)).all():
            now = utcnow()
            result = await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued")
                .values(
                    status="running",
                    worker_id=worker_id,
                    heartbeat_at=now,
                    attempts=Job.attempts + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue
            job = (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()
            if job.started_at is None:
                job.started_at = now
            run = await session.get(Run, job.run_id)
            if run is not None:
                if run.status == RunStatus.PENDING.value:
                    _transition(run, RunStatus.QUEUED)
                _transition(run, RunStatus.RUNNING)
            await session.flush()
            return job
    return None


async def heartbeat(
    sessionmaker: async_sessionmaker[AsyncSession], job_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Refresh our jobs' heartbeats; returns the ids that were cancelled elsewhere (stop them)."""
    if not job_ids:
        return set()
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Job)
            .where(Job.id.in_(list(job_ids)), Job.status == "running")
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        rows = await session.execute(
            select(Job.id).where(Job.id.in_(list(job_ids)), Job.cancel_requested.is_(True))
        )
        return {r for (r,) in rows.all()}


async def requeue_stale(
    sessionmaker: async_sessionmaker[AsyncSession],
    stale_before: datetime,
    exclude: Sequence[uuid.UUID] = (),
    *,
    worker_id: str | None = None,
) -> int:
    """Jobs left 'running' by a dead executor (stale heartbeat), or by `worker_id` (our own
    graceful shutdown), go back to the queue; they resume from their ledger."""
    async with sessionmaker() as session, session.begin():
        stmt = select(Job).where(Job.status == "running")
        if worker_id is not None:
            stmt = stmt.where(Job.worker_id == worker_id)
        else:
            stmt = stmt.where(Job.heartbeat_at < stale_before)
        if exclude:
            stmt = stmt.where(Job.id.not_in(list(exclude)))
        jobs = list((await session.execute(stmt.with_for_update())).scalars())
        for job in jobs:
            log.info("re-queueing job %s (run %s) left by %s", job.id, job.run_id, job.worker_id)
            job.status = "queued"
            job.worker_id = None
            job.updated_at = utcnow()
            run = await session.get(Run, job.run_id)
            if run is not None:
                _transition(run, RunStatus.QUEUED)
        await session.flush()
        return len(jobs)


async def set_progress(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, done: int, total: int
) -> None:
    async with sessionmaker() as session, session.begin():
        now = utcnow()
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(progress_done=done, progress_total=total, heartbeat_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, worker_id: str, outcome: Outcome
) -> str | None:
    """Record an attempt's outcome in one transaction: evaluations, run and job status, and the
    experiment when all its runs are done. Returns the job's new status (None: no longer ours,
    e.g. cancelled meanwhile)."""
    async with sessionmaker() as session, session.begin():
        job = (
            await session.execute(select(Job).where(Job.id == job_id).with_for_update())
        ).scalar_one_or_none()
        if job is None or job.status != "running" or job.worker_id != worker_id:
            if job is not None and outcome.result:
                job.result = {**job.result, **outcome.result}
            return None
        run = await session.get(Run, job.run_id)
        now = utcnow()
        job.result = {**job.result, **outcome.result}
        job.updated_at = now
        status: JobStatus
        if outcome.status == "completed":
            evals = EvaluationService(session)
            for metrics, metadata in outcome.evaluations:
                await evals.record(job.experiment_id, job.run_id, metrics, metadata)
            status = "completed"
            job.error = None
            if run is not None:
                _transition(run, RunStatus.COMPLETED)
        elif outcome.status == "failed" and outcome.retryable and job.attempts < job.max_attempts:
            status = "queued"
            job.worker_id = None
            job.error = outcome.error
            if run is not None:
                _transition(run, RunStatus.QUEUED)
        else:
            status = outcome.status
            job.error = outcome.error
            target = {
                "failed": RunStatus.FAILED,
                "cancelled": RunStatus.CANCELLED,
                "timed_out": RunStatus.TIMED_OUT,
            }.get(status, RunStatus.FAILED)
            if run is not None:
                _transition(run, target, error=outcome.error)
        job.status = status
        if status in TERMINAL_JOB_STATUSES:
            job.finished_at = now
            if job.request_id is not None:
                await session.flush()
                await settle_experiment(session, job.experiment_id)
        await session.flush()
        return status
