"""Liveness, readiness, detailed health, and the Prometheus endpoint."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import sqlalchemy
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from llm_research_lab import __version__
from llm_research_lab.errors import PermissionDeniedError
from llm_research_lab.schemas.health import ComponentDetail, DetailedHealth, Readiness
from llm_research_lab.server.deps import AUTHENTICATED, StateDep, get_principal
from llm_research_lab.server.health.checks import run_checks
from llm_research_lab.server.openapi import PUBLIC, errors, public_errors
from llm_research_lab.server.principal import Principal
from llm_research_lab.settings import SettingsSummary

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"example": "OK"}}}, **public_errors()},
    openapi_extra=PUBLIC,
    summary="Liveness probe",
)
async def liveness() -> PlainTextResponse:
    return PlainTextResponse("OK")


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A critical component is down"}, **public_errors()},
    openapi_extra=PUBLIC,
    summary="Readiness probe",
)
async def readiness(state: StateDep) -> JSONResponse:
    outcomes = await run_checks(state)
    critical_down = any(not o.healthy and o.critical for o in outcomes)
    degraded = any(not o.healthy for o in outcomes)
    body = Readiness(
        status="unhealthy" if critical_down else ("degraded" if degraded else "healthy"),
        components={o.name: "healthy" if o.healthy else "unhealthy" for o in outcomes},
    )
    return JSONResponse(body.model_dump(), status_code=503 if critical_down else 200)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "sqlalchemy": sqlalchemy.__version__}
    for pkg in ("fastapi", "pydantic", "uvicorn", "lm-eval"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


async def _detailed_guard(request: Request) -> Principal | None:
    """Public when LAB_HEALTH_DETAILED_PUBLIC is set, otherwise any authenticated principal."""
    if request.app.state.lab.settings.health_detailed_public:
        return None
    principal = await get_principal(request)
    return principal


# Declared needs (the authorization matrix test reads them); the settings may make these public.
_detailed_guard.required_permission = AUTHENTICATED  # type: ignore[attr-defined]


@router.get(
    "/health/detailed",
    response_model=DetailedHealth,
    responses={503: {"model": DetailedHealth, "description": "A critical component is down"}, **errors()},
    summary="Detailed health (versions, uptime, latency of each check)",
)
async def detailed(state: StateDep, _: Annotated[Principal | None, Depends(_detailed_guard)]) -> JSONResponse:
    outcomes = await run_checks(state)
    critical_down = any(not o.healthy and o.critical for o in outcomes)
    body = DetailedHealth(
        status="unhealthy" if critical_down else "healthy",
        version=__version__,
        uptime_seconds=state.uptime_seconds,
        components={
            o.name: ComponentDetail(
                status="healthy" if o.healthy else "unhealthy",
                latency_ms=round(o.latency_ms, 3),
                critical=o.critical,
                error=o.error,
            )
            for o in outcomes
        },
        versions=_versions(),
        settings=SettingsSummary.of(state.settings).model_dump(),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if critical_down else 200)


async def _metrics_guard(request: Request) -> Principal | None:
    if request.app.state.lab.settings.metrics_public:
        return None
    principal = await get_principal(request)
    if not principal.can("users:manage"):
        raise PermissionDeniedError(required_permission="users:manage")
    return principal


_metrics_guard.required_permission = "users:manage"  # type: ignore[attr-defined]


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **public_errors()},
    summary="Prometheus metrics",
)
async def prometheus(request: Request, _: Annotated[Principal | None, Depends(_metrics_guard)]) -> Response:
    metrics = request.app.state.lab.extras["http_metrics"]
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
