"""Run routes under /experiments/{experiment_id}/runs."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from llm_research_lab.schemas import experiments as s
from llm_research_lab.schemas.common import Page
from llm_research_lab.server.db.models import Run
from llm_research_lab.server.deps import Allowed, SessionDep
from llm_research_lab.server.openapi import errors
from llm_research_lab.server.pagination import PageParams, page_params, paginate
from llm_research_lab.server.principal import Principal
from llm_research_lab.server.runs.service import RunService, to_schema

router = APIRouter(prefix="/experiments/{experiment_id}/runs", tags=["runs"])


def _service(request: Request, session: SessionDep) -> RunService:
    launcher = request.app.state.lab.extras.get("run_launcher")
    return RunService(session, launcher)


ServiceDep = Annotated[RunService, Depends(_service)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=s.Run, responses=errors(404, 409))
async def create_run(
    experiment_id: uuid.UUID,
    service: ServiceDep,
    principal: Annotated[Principal, Allowed("experiments:execute")],
    body: s.RunCreate | None = None,
) -> s.Run:
    return to_schema(await service.create(principal, experiment_id, body or s.RunCreate()))


@router.get("", response_model=Page[s.Run], responses=errors(404))
async def list_runs(
    experiment_id: uuid.UUID,
    service: ServiceDep,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:read")],
    page: Annotated[PageParams, Depends(page_params)],
    status_: Annotated[s.RunStatus | None, Query(alias="status")] = None,
) -> Page[s.Run]:
    await service.experiments.get_visible(principal, experiment_id, "experiments:read")
    stmt = service.repo.list_stmt(experiment_id, status_.value if status_ else None)
    return await paginate(session, stmt, Run, page, to_schema)


@router.get("/{run_id}", response_model=s.Run, responses=errors(404))
async def get_run(
    experiment_id: uuid.UUID,
    run_id: uuid.UUID,
    service: ServiceDep,
    principal: Annotated[Principal, Allowed("experiments:read")],
) -> s.Run:
    return to_schema(await service.get(principal, experiment_id, run_id))


@router.post("/{run_id}/complete", response_model=s.Run, responses=errors(404, 409))
async def complete_run(
    experiment_id: uuid.UUID,
    run_id: uuid.UUID,
    service: ServiceDep,
    principal: Annotated[Principal, Allowed("experiments:write")],
) -> s.Run:
    return to_schema(await service.finish(principal, experiment_id, run_id, s.RunStatus.COMPLETED))


@router.post("/{run_id}/fail", response_model=s.Run, responses=errors(404, 409))
async def fail_run(
    experiment_id: uuid.UUID,
    run_id: uuid.UUID,
    body: s.RunFail,
    service: ServiceDep,
    principal: Annotated[Principal, Allowed("experiments:write")],
) -> s.Run:
    return to_schema(await service.finish(principal, experiment_id, run_id, s.RunStatus.FAILED, body.error))
