"""All SQL for registered models."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.server.db.models import LLMModel


class ModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, model_id: uuid.UUID) -> LLMModel | None:
        return await self.session.get(LLMModel, model_id)

    async def get_by_slug(self, slug: str) -> LLMModel | None:
        stmt = select(LLMModel).where(LLMModel.slug == slug)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def slug_taken(self, slug: str) -> bool:
        return await self.get_by_slug(slug) is not None

    async def add(self, row: LLMModel) -> LLMModel:
        self.session.add(row)
        await self.session.flush()
        return row

    def list_stmt(
        self, *, provider: str | None = None, include_inactive: bool = True, runtime: bool | None = None
    ) -> Select[LLMModel]:
        stmt = select(LLMModel)
        if provider is not None:
            stmt = stmt.where(LLMModel.provider == provider)
        if not include_inactive:
            stmt = stmt.where(LLMModel.status == "active")
        if runtime is not None:
            stmt = stmt.where(LLMModel.is_runtime.is_(runtime))
        return stmt

    async def all(self, stmt: Select[LLMModel]) -> list[LLMModel]:
        result = await self.session.execute(stmt.order_by(LLMModel.created_at, LLMModel.id))
        return list(result.scalars().all())

    async def delete(self, row: LLMModel) -> None:
        await self.session.delete(row)
        await self.session.flush()
