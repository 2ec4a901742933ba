"""All SQL for runs."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.server.db.models import Run


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, experiment_id: uuid.UUID, run_id: uuid.UUID) -> Run | None:
        row = await self.session.get(Run, run_id)
        return row if row is not None and row.experiment_id == experiment_id else None

    async def add(self, run: Run) -> Run:
        self.session.add(run)
        await self.session.flush()
        return run

    def list_stmt(self, experiment_id: uuid.UUID, status: str | None = None) -> Select[Run]:
        stmt = select(Run).where(Run.experiment_id == experiment_id)
        if status is not None:
            stmt = stmt.where(Run.status == status)
        return stmt
