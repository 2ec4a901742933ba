"""Experiment routes: parse, authorise, call one service method, return."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from llm_research_lab.schemas import experiments as s
from llm_research_lab.schemas.common import Page
from llm_research_lab.server.db.models import Experiment
from llm_research_lab.server.deps import Allowed, SessionDep
from llm_research_lab.server.experiments.service import ExperimentService, to_schema
from llm_research_lab.server.openapi import errors
from llm_research_lab.server.pagination import PageParams, page_params, paginate
from llm_research_lab.server.principal import Principal

router = APIRouter(prefix="/experiments", tags=["experiments"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=s.Experiment,
    responses=errors(409),
    summary="Create",
)
async def create_experiment(
    body: s.ExperimentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:write")],
) -> s.Experiment:
    return to_schema(await ExperimentService(session).create(principal, body))


@router.get("", response_model=Page[s.Experiment], responses=errors(), summary="List (filter, paginate)")
async def list_experiments(
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:read")],
    page: Annotated[PageParams, Depends(page_params)],
    status_: Annotated[s.ExperimentStatus | None, Query(alias="status")] = None,
    owner_id: uuid.UUID | None = None,
    tags: Annotated[str | None, Query(description="Comma-separated; every tag must match")] = None,
) -> Page[s.Experiment]:
    tag_list = [t.strip() for t in (tags or "").split(",") if t.strip()]
    stmt = ExperimentService(session).repo.list_stmt(
        principal, status=status_.value if status_ else None, owner_id=owner_id, tags=tag_list
    )
    return await paginate(session, stmt, Experiment, page, to_schema)


@router.get("/{experiment_id}", response_model=s.Experiment, responses=errors(404))
async def get_experiment(
    experiment_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:read")],
) -> s.Experiment:
    return to_schema(
        await ExperimentService(session).get_visible(principal, experiment_id, "experiments:read")
    )


@router.put(
    "/{experiment_id}", response_model=s.Experiment, responses=errors(404, 409), summary="Partial update"
)
async def update_experiment(
    experiment_id: uuid.UUID,
    body: s.ExperimentUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:write")],
) -> s.Experiment:
    return to_schema(await ExperimentService(session).update(principal, experiment_id, body))


@router.patch(
    "/{experiment_id}", response_model=s.Experiment, responses=errors(404, 409), include_in_schema=True
)
async def patch_experiment(
    experiment_id: uuid.UUID,
    body: s.ExperimentUpdate,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:write")],
) -> s.Experiment:
    return to_schema(await ExperimentService(session).update(principal, experiment_id, body))


@router.delete("/{experiment_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404))
async def delete_experiment(
    experiment_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:delete")],
) -> Response:
    await ExperimentService(session).delete(principal, experiment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{experiment_id}/start", response_model=s.ExperimentStarted, responses=errors(404, 409, 422))
async def start_experiment(
    experiment_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:execute")],
) -> s.ExperimentStarted:
    row = await ExperimentService(session).start(principal, experiment_id)
    return s.ExperimentStarted(id=row.id, status=s.ExperimentStatus(row.status), started_at=row.started_at)
