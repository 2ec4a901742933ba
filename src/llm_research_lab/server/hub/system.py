"""GET /api/v1/metrics/system: evaluation counts by status, executor load, memory."""

from __future__ import annotations

import os
import resource
import uuid
from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from llm_research_lab.schemas import hub as h
from llm_research_lab.server.db.models import EvalRequest, Job, LedgerSample
from llm_research_lab.server.principal import Principal

if TYPE_CHECKING:
    from llm_research_lab.server.hub.evaluations import HubEvaluationService

MB = 1024.0 * 1024.0


def process_rss_mb() -> float:
    """Resident set size now (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / MB
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def system_metrics(
    service: HubEvaluationService, principal: Principal, uptime: float
) -> h.SystemMetrics:
    from llm_research_lab.server.hub.evaluations import derive_status

    session = service.session
    rows = await session.execute(
        select(Job.request_id, Job.status, func.count())
        .where(Job.request_id.is_not(None))
        .group_by(Job.request_id, Job.status)
    )
    per_request: dict[uuid.UUID, list[str]] = defaultdict(list)
    job_counts: Counter[str] = Counter()
    for request_id, status, n in rows.all():
        if request_id is None:
            continue
        per_request[request_id].extend([status] * int(n))
        job_counts[status] += int(n)
    cancelled = {
        r
        for (r,) in (
            await session.execute(select(EvalRequest.id).where(EvalRequest.cancelled_at.is_not(None)))
        ).all()
    }
    breakdown: Counter[str] = Counter()
    active = 0
    for request_id, statuses in per_request.items():
        st = derive_status(statuses, request_id in cancelled)
        breakdown[st.value] += 1
        if st in (h.HubStatus.PENDING, h.HubStatus.RUNNING):
            active += 1
    total = await service.count_requests()
    ledger_rows = int((await session.execute(select(func.count()).select_from(LedgerSample))).scalar_one())
    executor = service.executor
    return h.SystemMetrics(
        active_evaluations=active,
        running_tasks=job_counts.get("running", 0),
        queued_tasks=job_counts.get("queued", 0),
        total_requests=total,
        status_breakdown=dict(breakdown),
        job_status_breakdown=dict(job_counts),
        max_concurrent_jobs=service.settings.max_concurrent_jobs,
        executor=service.settings.executor,
        memory_usage=h.MemoryUsage(
            active_evaluations_mb=(executor.memory_bytes if executor is not None else 0) / MB,
            process_rss_mb=process_rss_mb(),
            ledger_rows=ledger_rows,
        ),
        uptime_seconds=uptime,
    )
