"""Evaluation routes and the experiment metrics aggregate."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from llm_research_lab.schemas import evaluations as s
from llm_research_lab.schemas.common import Page
from llm_research_lab.schemas.experiments import ExperimentMetrics
from llm_research_lab.server.db.models import Evaluation
from llm_research_lab.server.deps import Allowed, SessionDep
from llm_research_lab.server.evaluations.service import EvaluationService, to_schema
from llm_research_lab.server.openapi import errors
from llm_research_lab.server.pagination import PageParams, page_params, paginate
from llm_research_lab.server.principal import Principal

router = APIRouter(tags=["evaluations"])


@router.post(
    "/evaluations", status_code=status.HTTP_201_CREATED, response_model=s.Evaluation, responses=errors(404)
)
async def create_evaluation(
    body: s.EvaluationCreate,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("evaluations:write")],
) -> s.Evaluation:
    return to_schema(await EvaluationService(session).create(principal, body))


@router.get("/evaluations", response_model=Page[s.Evaluation], responses=errors(404))
async def list_evaluations(
    session: SessionDep,
    principal: Annotated[Principal, Allowed("evaluations:read")],
    page: Annotated[PageParams, Depends(page_params)],
    experiment_id: uuid.UUID | None = None,
    run_id: uuid.UUID | None = None,
) -> Page[s.Evaluation]:
    stmt = await EvaluationService(session).list_stmt(principal, experiment_id, run_id)
    return await paginate(session, stmt, Evaluation, page, to_schema)


@router.get("/evaluations/{evaluation_id}", response_model=s.Evaluation, responses=errors(404))
async def get_evaluation(
    evaluation_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("evaluations:read")],
) -> s.Evaluation:
    return to_schema(await EvaluationService(session).get(principal, evaluation_id))


@router.get("/experiments/{experiment_id}/metrics", response_model=ExperimentMetrics, responses=errors(404))
async def experiment_metrics(
    experiment_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:read")],
    include_runs: Annotated[
        bool, Query(description="Include the per-run metrics list (large for experiments with many runs)")
    ] = True,
) -> ExperimentMetrics:
    return await EvaluationService(session).experiment_metrics(
        principal, experiment_id, include_runs=include_runs
    )
