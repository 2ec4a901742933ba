"""Research Lab view of the sample ledger: /experiments/{id}/runs/{run_id}/samples."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from llm_research_lab.schemas.common import Page
from llm_research_lab.schemas.hub import LedgerEntry
from llm_research_lab.server.deps import Allowed, SessionDep
from llm_research_lab.server.hub.samples import SampleParams, ledger_page
from llm_research_lab.server.openapi import errors
from llm_research_lab.server.principal import Principal
from llm_research_lab.server.runs.service import RunService

router = APIRouter(prefix="/experiments/{experiment_id}/runs", tags=["runs"])


@router.get("/{run_id}/samples", response_model=Page[LedgerEntry], responses=errors(404))
async def run_samples(
    experiment_id: uuid.UUID,
    run_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("experiments:read")],
    params: Annotated[SampleParams, Depends()],
) -> Page[LedgerEntry]:
    run = await RunService(session).get(principal, experiment_id, run_id)
    return await ledger_page(session, [run.id], params)
