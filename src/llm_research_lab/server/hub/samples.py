"""Reading the sample ledger (paginated), for /api/v1/evaluations/{id}/samples and
/experiments/{id}/runs/{run_id}/samples."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.schemas.common import Links, Page, PageInfo, Pagination
from llm_research_lab.schemas.hub import LedgerEntry
from llm_research_lab.server.db.models import LedgerSample


class SampleParams:
    def __init__(
        self,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=500, description="Page size (1..500)")] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        benchmark: Annotated[str | None, Query(description="Only this benchmark's samples")] = None,
    ) -> None:
        self.limit = limit
        self.offset = offset
        self.benchmark = benchmark
        self.path = request.url.path
        self.query = [(k, v) for k, v in request.query_params.multi_items() if k not in {"limit", "offset"}]

    def link(self, offset: int) -> str:
        return f"{self.path}?{urlencode([*self.query, ('limit', self.limit), ('offset', offset)])}"


def to_entry(row: LedgerSample) -> LedgerEntry:
    return LedgerEntry(
        run_id=row.run_id,
        benchmark=row.benchmark,
        doc_id=row.doc_id,
        repeat=row.repeat,
        request_hash=row.request_hash,
        prompt=row.prompt,
        response=row.response,
        target=row.target,
        scores=dict(row.scores),
        latency_ms=row.latency_ms,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        extra=dict(row.extra),
        created_at=row.created_at,
    )


async def ledger_page(
    session: AsyncSession, run_ids: Sequence[uuid.UUID], p: SampleParams
) -> Page[LedgerEntry]:
    """Samples in (run, benchmark, doc, repeat) order: stable while a job is still writing."""
    stmt = select(LedgerSample).where(LedgerSample.run_id.in_(list(run_ids)))
    if p.benchmark is not None:
        stmt = stmt.where(LedgerSample.benchmark == p.benchmark)
    total = int(
        (await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))).scalar_one()
    )
    ordered = stmt.order_by(
        LedgerSample.run_id, LedgerSample.benchmark, LedgerSample.doc_id, LedgerSample.repeat
    )
    rows = list((await session.execute(ordered.offset(p.offset).limit(p.limit))).scalars())
    has_more = p.offset + len(rows) < total
    last = max(0, ((total - 1) // p.limit) * p.limit) if total else 0
    return Page[LedgerEntry](
        data=[to_entry(r) for r in rows],
        pagination=Pagination(total=total, limit=p.limit, offset=p.offset, has_more=has_more),
        links=Links(
            self=p.link(p.offset),
            next=p.link(p.offset + p.limit) if has_more else None,
            prev=p.link(max(0, p.offset - p.limit)) if p.offset > 0 else None,
            first=p.link(0),
            last=p.link(last),
        ),
        page_info=PageInfo(
            has_next_page=has_more, has_previous_page=p.offset > 0, start_cursor=None, end_cursor=None
        ),
    )
