"""Research Lab model routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from llm_research_lab.schemas import models as s
from llm_research_lab.schemas.common import Page
from llm_research_lab.server.db.models import LLMModel
from llm_research_lab.server.deps import Allowed, SessionDep
from llm_research_lab.server.models.providers import PROVIDER_INFO
from llm_research_lab.server.models.service import ModelService, to_schema
from llm_research_lab.server.openapi import errors
from llm_research_lab.server.pagination import PageParams, page_params, paginate
from llm_research_lab.server.principal import Principal

router = APIRouter(prefix="/models", tags=["models"])


@router.get("/providers", response_model=list[s.Provider], responses=errors())
async def list_providers(_: Annotated[Principal, Allowed("models:read")]) -> list[s.Provider]:
    return list(PROVIDER_INFO)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=s.Model, responses=errors(409))
async def create_model(
    body: s.ModelCreate, session: SessionDep, principal: Annotated[Principal, Allowed("models:write")]
) -> s.Model:
    return to_schema(await ModelService(session).create(principal, body))


@router.get("", response_model=Page[s.Model], responses=errors())
async def list_models(
    session: SessionDep,
    _: Annotated[Principal, Allowed("models:read")],
    page: Annotated[PageParams, Depends(page_params)],
    provider: str | None = None,
) -> Page[s.Model]:
    stmt = ModelService(session).repo.list_stmt(provider=provider)
    return await paginate(session, stmt, LLMModel, page, to_schema)


@router.get("/{model_id}", response_model=s.Model, responses=errors(404))
async def get_model(
    model_id: uuid.UUID, session: SessionDep, _: Annotated[Principal, Allowed("models:read")]
) -> s.Model:
    return to_schema(await ModelService(session).get(model_id))


@router.put("/{model_id}", response_model=s.Model, responses=errors(404))
async def update_model(
    model_id: uuid.UUID,
    body: s.ModelUpdate,
    session: SessionDep,
    _: Annotated[Principal, Allowed("models:write")],
) -> s.Model:
    return to_schema(await ModelService(session).update(model_id, body))


@router.delete("/{model_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_model(
    model_id: uuid.UUID, session: SessionDep, _: Annotated[Principal, Allowed("models:delete")]
) -> Response:
    await ModelService(session).delete(model_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
