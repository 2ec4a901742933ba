"""The sample ledger: the runner's SampleSink over the ``sample_ledger`` table.

Each batch is one multi-row INSERT in its own short transaction (SQLite serialises writers, so a
write transaction is never held across model calls). The unique key (run, benchmark, doc, repeat)
with ON CONFLICT DO NOTHING makes a replayed batch harmless.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llm_research_lab.engine.types import ScoredSample
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import LedgerSample

LEDGER_KEY = ["run_id", "benchmark", "doc_id", "repeat"]


class LedgerSink:
    """Persists one run's samples. `prefix` namespaces the benchmark name when one run scores
    several model x source combinations (Research Lab runs with several models)."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, *, prefix: str = ""
    ) -> None:
        self.sessionmaker = sessionmaker
        self.run_id = run_id
        self.prefix = prefix
        self.written = 0

    def key(self, benchmark: str) -> str:
        return f"{self.prefix}{benchmark}"

    async def completed(self, benchmark: str) -> Mapping[int, ScoredSample]:
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(LedgerSample).where(
                        LedgerSample.run_id == self.run_id,
                        LedgerSample.benchmark == self.key(benchmark),
                        LedgerSample.repeat == 0,
                    )
                )
            ).scalars()
            return {
                r.doc_id: ScoredSample(
                    benchmark=benchmark,
                    doc_id=r.doc_id,
                    request_hash=r.request_hash,
                    prompt=r.prompt,
                    response=r.response,
                    target=r.target,
                    scores={k: float(v) for k, v in r.scores.items()},
                    latency_ms=r.latency_ms,
                    prompt_tokens=r.prompt_tokens,
                    completion_tokens=r.completion_tokens,
                    repeat=r.repeat,
                    extra=dict(r.extra),
                )
                for r in rows
            }

    async def record(self, samples: Sequence[ScoredSample]) -> None:
        if not samples:
            return
        now = utcnow()
        values: list[dict[str, Any]] = [
            {
                "run_id": self.run_id,
                "benchmark": self.key(s.benchmark),
                "doc_id": s.doc_id,
                "repeat": s.repeat,
                "request_hash": s.request_hash,
                "prompt": s.prompt,
                "response": s.response,
                "target": s.target,
                "scores": dict(s.scores),
                "latency_ms": float(s.latency_ms),
                "prompt_tokens": int(s.prompt_tokens),
                "completion_tokens": int(s.completion_tokens),
                "extra": dict(s.extra),
                "created_at": now,
            }
            for s in samples
        ]
        async with self.sessionmaker() as session, session.begin():
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            stmt = insert(LedgerSample).values(values).on_conflict_do_nothing(index_elements=LEDGER_KEY)
            await session.execute(stmt)
        self.written += len(values)


async def ledger_count(session: AsyncSession, run_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not run_ids:
        return {}
    rows = await session.execute(
        select(LedgerSample.run_id, func.count())
        .where(LedgerSample.run_id.in_(list(run_ids)))
        .group_by(LedgerSample.run_id)
    )
    return {r: int(n) for r, n in rows.all()}


async def ledger_serving_stats(
    session: AsyncSession, run_id: uuid.UUID, prefix: str | None = None
) -> dict[str, Any]:
    """Latencies and token totals of a run's samples (all attempts, resumed ones included)."""
    stmt = select(LedgerSample.latency_ms, LedgerSample.prompt_tokens, LedgerSample.completion_tokens).where(
        LedgerSample.run_id == run_id
    )
    if prefix:
        stmt = stmt.where(LedgerSample.benchmark.startswith(prefix, autoescape=True))
    rows = (await session.execute(stmt)).all()
    return {
        "latencies_ms": [float(r[0]) for r in rows],
        "prompt_tokens": sum(int(r[1]) for r in rows),
        "completion_tokens": sum(int(r[2]) for r in rows),
        "samples": len(rows),
    }
