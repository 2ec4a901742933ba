"""Registered models: one row serves the Research Lab and the Eval Hub surfaces."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import BadRequestError, ConflictError, NotFoundError
from llm_research_lab.schemas import models as s
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import LLMModel
from llm_research_lab.server.jsonmerge import deep_merge
from llm_research_lab.server.models.repository import ModelRepository
from llm_research_lab.server.principal import Principal


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return slug[:200] or "model"


def to_schema(row: LLMModel) -> s.Model:
    return s.Model(
        id=row.id,
        model_id=row.slug,
        name=row.name,
        provider=row.provider,
        model_identifier=row.model_identifier,
        version=row.version,
        description=row.description,
        base_url=row.base_url,
        api_key_env=row.api_key_env,
        config=dict(row.config),
        capabilities=dict(row.capabilities),
        tags=list(row.tags),
        status=row.status,
        is_runtime=row.is_runtime,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ModelService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ModelRepository(session)

    async def unique_slug(self, base: str) -> str:
        slug, n = slugify(base), 2
        candidate = slug
        while await self.repo.slug_taken(candidate):
            candidate = f"{slug}-{n}"
            n += 1
        return candidate

    async def get(self, model_id: uuid.UUID) -> LLMModel:
        row = await self.repo.get(model_id)
        if row is None:
            raise NotFoundError.of("Model", model_id)
        return row

    async def resolve(self, ref: str) -> LLMModel:
        """A model by uuid or by slug (model_id)."""
        row: LLMModel | None = None
        try:
            row = await self.repo.get(uuid.UUID(ref))
        except ValueError:
            row = None
        if row is None:
            row = await self.repo.get_by_slug(ref)
        if row is None:
            raise NotFoundError(f"Model '{ref}' not found")
        return row

    async def create(self, principal: Principal, data: s.ModelCreate, *, slug: str | None = None) -> LLMModel:
        if slug is not None and await self.repo.slug_taken(slug):
            existing = await self.repo.get_by_slug(slug)
            raise ConflictError(
                f"A model with model_id '{slug}' already exists",
                existing_id=str(existing.id if existing else ""),
            )
        row = LLMModel(
            slug=slug or await self.unique_slug(data.name),
            name=data.name,
            description=data.description,
            provider=data.provider,
            model_identifier=data.model_identifier,
            version=data.version,
            base_url=data.base_url,
            api_key_env=data.api_key_env,
            api_key_required=data.api_key_env is not None,
            config=data.config,
            tags=list(dict.fromkeys(data.tags)),
            created_by=principal.user_id,
        )
        return await self.repo.add(row)

    async def update(self, model_id: uuid.UUID, data: s.ModelUpdate) -> LLMModel:
        row = await self.get(model_id)
        self._refuse_runtime(row, "updated")
        sent = data.model_dump(exclude_unset=True)
        for field in ("name", "model_identifier", "version", "description", "base_url", "api_key_env"):
            if field in sent:
                setattr(row, field, sent[field])
        if "api_key_env" in sent:
            row.api_key_required = sent["api_key_env"] is not None
        if data.config is not None:
            row.config = deep_merge(row.config, data.config)
        if data.tags is not None:
            row.tags = list(dict.fromkeys(data.tags))
        row.updated_at = utcnow()
        await self.session.flush()
        return row

    async def delete(self, model_id: uuid.UUID) -> None:
        row = await self.get(model_id)
        self._refuse_runtime(row, "deleted")
        await self.repo.delete(row)

    @staticmethod
    def _refuse_runtime(row: LLMModel, verb: str) -> None:
        if row.is_runtime:
            raise BadRequestError(
                f"Model '{row.slug}' is a runtime model configured via environment variables "
                f"and cannot be {verb}"
            )
