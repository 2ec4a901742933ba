"""Prompt template routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from llm_research_lab.schemas import prompts as s
from llm_research_lab.schemas.common import Page
from llm_research_lab.server.db.models import PromptTemplate
from llm_research_lab.server.deps import Allowed, SessionDep
from llm_research_lab.server.openapi import errors
from llm_research_lab.server.pagination import PageParams, page_params, paginate
from llm_research_lab.server.principal import Principal
from llm_research_lab.server.prompts.service import PromptService, to_schema

router = APIRouter(prefix="/prompts", tags=["prompts"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=s.PromptTemplate, responses=errors())
async def create_prompt(
    body: s.PromptTemplateCreate,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("prompts:write")],
) -> s.PromptTemplate:
    return to_schema(await PromptService(session).create(principal, body))


@router.get("", response_model=Page[s.PromptTemplate], responses=errors())
async def list_prompts(
    session: SessionDep,
    _: Annotated[Principal, Allowed("prompts:read")],
    page: Annotated[PageParams, Depends(page_params)],
) -> Page[s.PromptTemplate]:
    return await paginate(session, PromptService(session).repo.list_stmt(), PromptTemplate, page, to_schema)


@router.get("/{template_id}", response_model=s.PromptTemplate, responses=errors(404))
async def get_prompt(
    template_id: uuid.UUID, session: SessionDep, _: Annotated[Principal, Allowed("prompts:read")]
) -> s.PromptTemplate:
    return to_schema(await PromptService(session).get(template_id))


@router.put("/{template_id}", response_model=s.PromptTemplate, responses=errors(404))
async def update_prompt(
    template_id: uuid.UUID,
    body: s.PromptTemplateUpdate,
    session: SessionDep,
    _: Annotated[Principal, Allowed("prompts:write")],
) -> s.PromptTemplate:
    return to_schema(await PromptService(session).update(template_id, body))


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_prompt(
    template_id: uuid.UUID, session: SessionDep, _: Annotated[Principal, Allowed("prompts:delete")]
) -> Response:
    await PromptService(session).delete(template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{template_id}/render", response_model=s.RenderResponse, responses=errors(404))
async def render_prompt(
    template_id: uuid.UUID,
    body: s.RenderRequest,
    session: SessionDep,
    _: Annotated[Principal, Allowed("prompts:read")],
) -> s.RenderResponse:
    return s.RenderResponse(rendered=await PromptService(session).render(template_id, body))
