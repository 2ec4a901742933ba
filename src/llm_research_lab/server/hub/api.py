"""Eval Hub routes under /api/v1: parse, authorise, call one service method, return."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from llm_research_lab import __version__
from llm_research_lab.catalog import Catalog, UnknownCatalogIdError, load_catalog
from llm_research_lab.errors import NotFoundError, ValidationError
from llm_research_lab.jobs.local import get_executor
from llm_research_lab.schemas import hub as h
from llm_research_lab.schemas.common import Page
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.deps import Allowed, SessionDep, StateDep
from llm_research_lab.server.hub.evaluations import HubEvaluationService
from llm_research_lab.server.hub.models import HubModelService, to_hub
from llm_research_lab.server.hub.samples import SampleParams, ledger_page
from llm_research_lab.server.openapi import PUBLIC, errors, public_errors
from llm_research_lab.server.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["eval-hub"])


def get_catalog(state: StateDep) -> Catalog:
    return load_catalog(state.settings.benchmark_data_dir)


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def _evaluations(state: StateDep, session: SessionDep, catalog: CatalogDep) -> HubEvaluationService:
    return HubEvaluationService(session, state.settings, catalog, get_executor(state))


def _models(state: StateDep, session: SessionDep) -> HubModelService:
    return HubModelService(session, state.extras.get("environ"))


EvalDep = Annotated[HubEvaluationService, Depends(_evaluations)]
ModelsDep = Annotated[HubModelService, Depends(_models)]


def _hub_benchmark(b: object) -> h.HubBenchmark:
    return h.HubBenchmark.model_validate(b, from_attributes=True)


def _provider(p: object, with_benchmarks: bool) -> h.HubProvider:
    provider = h.HubProvider.model_validate(p, from_attributes=True)
    if not with_benchmarks:
        provider.benchmarks = None
    return provider


def _not_found(exc: UnknownCatalogIdError) -> NotFoundError:
    message = str(exc)
    return NotFoundError(message[:1].upper() + message[1:], details={"suggestions": exc.suggestions})


# ------------------------------------------------------------------------------- health


@router.get("/health", response_model=h.HubHealth, responses=public_errors(hub=True), openapi_extra=PUBLIC)
async def hub_health(state: StateDep) -> h.HubHealth:
    return h.HubHealth(
        status="healthy", version=__version__, uptime_seconds=state.uptime_seconds, timestamp=utcnow()
    )


# ------------------------------------------------------------------------------- catalog


@router.get("/providers", response_model=h.ProviderList, responses=errors(hub=True))
async def list_providers(
    catalog: CatalogDep,
    _: Annotated[Principal, Allowed("evaluations:read")],
    include_benchmarks: bool = False,
) -> h.ProviderList:
    providers = [_provider(p, include_benchmarks) for p in catalog.providers]
    return h.ProviderList(providers=providers, total_providers=len(providers))


@router.get("/providers/{provider_id}", response_model=h.HubProvider, responses=errors(404, hub=True))
async def get_provider(
    provider_id: str, catalog: CatalogDep, _: Annotated[Principal, Allowed("evaluations:read")]
) -> h.HubProvider:
    try:
        return _provider(catalog.provider(provider_id), True)
    except UnknownCatalogIdError as exc:
        raise _not_found(exc) from None


@router.get(
    "/providers/{provider_id}/benchmarks",
    response_model=list[h.HubBenchmark],
    responses=errors(404, hub=True),
)
async def provider_benchmarks(
    provider_id: str, catalog: CatalogDep, _: Annotated[Principal, Allowed("evaluations:read")]
) -> list[h.HubBenchmark]:
    try:
        return [_hub_benchmark(b) for b in catalog.provider(provider_id).benchmarks]
    except UnknownCatalogIdError as exc:
        raise _not_found(exc) from None


@router.get("/benchmarks", response_model=h.BenchmarkList, responses=errors(hub=True))
async def list_benchmarks(
    catalog: CatalogDep,
    _: Annotated[Principal, Allowed("evaluations:read")],
    category: str | None = None,
    provider_id: str | None = None,
    tags: Annotated[str | None, Query(description="Comma-separated; a benchmark must have all")] = None,
) -> h.BenchmarkList:
    tag_list = [t.strip() for t in (tags or "").split(",") if t.strip()]
    if category is not None and category not in catalog.categories:
        raise ValidationError.from_fields(
            {"category": f"Unknown category '{category}'; known: {', '.join(catalog.categories)}"},
            "Invalid query parameters",
        )
    try:
        found = catalog.benchmarks(category=category, provider_id=provider_id, tags=tag_list)
    except UnknownCatalogIdError as exc:
        raise _not_found(exc) from None
    return h.BenchmarkList(benchmarks=[_hub_benchmark(b) for b in found], total_count=len(found))


@router.get("/collections", response_model=h.CollectionList, responses=errors(hub=True))
async def list_collections(
    catalog: CatalogDep, _: Annotated[Principal, Allowed("evaluations:read")]
) -> h.CollectionList:
    cols = [h.HubCollection.model_validate(c, from_attributes=True) for c in catalog.collections]
    return h.CollectionList(collections=cols, total_collections=len(cols))


# ------------------------------------------------------------------------------- models


@router.get("/models", response_model=h.HubModelList, responses=errors(hub=True))
async def list_models(
    service: ModelsDep, _: Annotated[Principal, Allowed("models:read")], include_inactive: bool = True
) -> h.HubModelList:
    return await service.list(include_inactive)


@router.post(
    "/models", status_code=status.HTTP_201_CREATED, response_model=h.HubModel, responses=errors(409, hub=True)
)
async def register_model(
    body: h.HubModelCreate, service: ModelsDep, principal: Annotated[Principal, Allowed("models:write")]
) -> h.HubModel:
    return to_hub(await service.register(principal, body))


@router.post("/models/reload", response_model=h.ReloadResult, responses=errors(hub=True))
async def reload_models(
    service: ModelsDep, _: Annotated[Principal, Allowed("models:write")]
) -> h.ReloadResult:
    return await service.reload()


@router.get("/models/{model_id}", response_model=h.HubModel, responses=errors(404, hub=True))
async def get_model(
    model_id: str, service: ModelsDep, _: Annotated[Principal, Allowed("models:read")]
) -> h.HubModel:
    return to_hub(await service.get(model_id))


@router.put("/models/{model_id}", response_model=h.HubModel, responses=errors(404, hub=True))
async def update_model(
    model_id: str,
    body: h.HubModelUpdate,
    service: ModelsDep,
    _: Annotated[Principal, Allowed("models:write")],
) -> h.HubModel:
    return to_hub(await service.update(model_id, body))


@router.delete("/models/{model_id}", response_model=h.HubMessage, responses=errors(404, hub=True))
async def delete_model(
    model_id: str, service: ModelsDep, _: Annotated[Principal, Allowed("models:delete")]
) -> h.HubMessage:
    return h.HubMessage(message=await service.delete(model_id))


@router.post("/models/{model_id}/probe", response_model=h.HubModel, responses=errors(404, hub=True))
async def probe_model(
    model_id: str, service: ModelsDep, _: Annotated[Principal, Allowed("models:write")]
) -> h.HubModel:
    return to_hub(await service.probe(model_id))


# ------------------------------------------------------------------------------- evaluations


@router.post(
    "/evaluations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=h.EvaluationCreated,
    responses=errors(404, 409, 422, hub=True),
)
async def create_evaluation(
    body: h.EvaluationRequest,
    service: EvalDep,
    principal: Annotated[Principal, Allowed("evaluations:write")],
) -> h.EvaluationCreated:
    return await service.submit(principal, body)


@router.post(
    "/evaluations/benchmarks/{provider_id}/{benchmark_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=h.EvaluationCreated,
    responses=errors(404, 409, 422, hub=True),
)
async def create_single_benchmark_evaluation(
    provider_id: str,
    benchmark_id: str,
    body: h.SingleBenchmarkRequest,
    service: EvalDep,
    principal: Annotated[Principal, Allowed("evaluations:write")],
) -> h.EvaluationCreated:
    return await service.submit_single(principal, provider_id, benchmark_id, body)


@router.get("/evaluations", response_model=list[h.EvaluationStatus], responses=errors(hub=True))
async def list_evaluations(
    service: EvalDep,
    principal: Annotated[Principal, Allowed("evaluations:read")],
    status_: Annotated[h.HubStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[h.EvaluationStatus]:
    return await service.list_requests(principal, status_, limit)


@router.get("/evaluations/{request_id}", response_model=h.EvaluationStatus, responses=errors(404, hub=True))
async def get_evaluation(
    request_id: uuid.UUID, service: EvalDep, principal: Annotated[Principal, Allowed("evaluations:read")]
) -> h.EvaluationStatus:
    return await service.status(principal, request_id)


@router.delete("/evaluations/{request_id}", response_model=h.HubMessage, responses=errors(404, 409, hub=True))
async def cancel_evaluation(
    request_id: uuid.UUID, service: EvalDep, principal: Annotated[Principal, Allowed("evaluations:write")]
) -> h.HubMessage:
    return await service.cancel(principal, request_id)


@router.get(
    "/evaluations/{request_id}/samples", response_model=Page[h.LedgerEntry], responses=errors(404, hub=True)
)
async def evaluation_samples(
    request_id: uuid.UUID,
    service: EvalDep,
    session: SessionDep,
    principal: Annotated[Principal, Allowed("evaluations:read")],
    params: Annotated[SampleParams, Depends()],
) -> Page[h.LedgerEntry]:
    return await ledger_page(session, await service.run_ids(principal, request_id), params)


@router.get("/metrics/system", response_model=h.SystemMetrics, responses=errors(hub=True))
async def system_metrics(
    service: EvalDep, state: StateDep, principal: Annotated[Principal, Allowed("evaluations:read")]
) -> h.SystemMetrics:
    return await service.system_metrics(principal, state.uptime_seconds)
