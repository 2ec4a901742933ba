"""Prompt templates: CRUD and rendering."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import NotFoundError
from llm_research_lab.schemas import prompts as s
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import PromptTemplate
from llm_research_lab.server.principal import Principal
from llm_research_lab.server.prompts.rendering import check_template, render


def to_schema(row: PromptTemplate) -> s.PromptTemplate:
    return s.PromptTemplate(
        id=row.id,
        name=row.name,
        description=row.description,
        template=row.template,
        variables=list(row.variables),
        default_values=dict(row.default_values),
        tags=list(row.tags),
        metadata=dict(row.metadata_),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class PromptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, template_id: uuid.UUID) -> PromptTemplate | None:
        return await self.session.get(PromptTemplate, template_id)

    def list_stmt(self, tags: list[str] | None = None) -> Select[PromptTemplate]:
        return select(PromptTemplate)


class PromptService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = PromptRepository(session)

    async def get(self, template_id: uuid.UUID) -> PromptTemplate:
        row = await self.repo.get(template_id)
        if row is None:
            raise NotFoundError.of("Prompt template", template_id)
        return row

    async def create(self, principal: Principal, data: s.PromptTemplateCreate) -> PromptTemplate:
        variables = check_template(data.template, data.variables)
        row = PromptTemplate(
            name=data.name,
            description=data.description,
            template=data.template,
            variables=variables,
            default_values=data.default_values,
            tags=list(dict.fromkeys(data.tags)),
            metadata_=data.metadata,
            created_by=principal.user_id,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def update(self, template_id: uuid.UUID, data: s.PromptTemplateUpdate) -> PromptTemplate:
        row = await self.get(template_id)
        sent = data.model_fields_set
        template = data.template if data.template is not None else row.template
        declared = data.variables if "variables" in sent else (None if "template" in sent else row.variables)
        row.variables = check_template(template, declared)
        row.template = template
        for field in ("name", "description"):
            if field in sent:
                setattr(row, field, getattr(data, field))
        if data.default_values is not None:
            row.default_values = data.default_values
        if data.tags is not None:
            row.tags = list(dict.fromkeys(data.tags))
        if data.metadata is not None:
            row.metadata_ = data.metadata
        row.updated_at = utcnow()
        await self.session.flush()
        return row

    async def delete(self, template_id: uuid.UUID) -> None:
        row = await self.get(template_id)
        await self.session.delete(row)
        await self.session.flush()

    async def render(self, template_id: uuid.UUID, data: s.RenderRequest) -> str:
        row = await self.get(template_id)
        return render(row.template, row.variables, row.default_values, data.variables)
