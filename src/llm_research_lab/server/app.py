"""create_app(settings): middleware, routers, lifespan. The only place the app is assembled."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import select

from llm_research_lab import __version__
from llm_research_lab.jobs.launcher import install_dataset_rows, make_run_launcher
from llm_research_lab.jobs.local import install_executor
from llm_research_lab.server.auth.install import apply_security_settings, install_auth
from llm_research_lab.server.datasets.wiring import install as install_datasets
from llm_research_lab.server.db.migrate import upgrade
from llm_research_lab.server.db.models import User
from llm_research_lab.server.db.session import active_connections, create_engine, create_sessionmaker
from llm_research_lab.server.errors import install_error_handlers
from llm_research_lab.server.evaluations.api import router as evaluations_router
from llm_research_lab.server.experiments.api import router as experiments_router
from llm_research_lab.server.health.api import router as health_router
from llm_research_lab.server.health.checks import install_default_checks
from llm_research_lab.server.hub.api import router as hub_router
from llm_research_lab.server.hub.ledger_api import router as ledger_router
from llm_research_lab.server.hub.runtime import install_runtime_models
from llm_research_lab.server.models.api import router as models_router
from llm_research_lab.server.observability.metrics import HttpMetrics
from llm_research_lab.server.observability.middleware import EdgeMiddleware
from llm_research_lab.server.principal import LOCAL_USER_EMAIL, LOCAL_USER_ID
from llm_research_lab.server.prompts.api import router as prompts_router
from llm_research_lab.server.runs.api import router as runs_router
from llm_research_lab.server.state import AppState
from llm_research_lab.server.ui import router as ui_router
from llm_research_lab.settings import Settings

log = logging.getLogger("llm_research_lab")

# Start-up/shutdown hooks other domains add (executor, rate limiter, object store).
StartupHook = Callable[[AppState], Awaitable[None]]


async def _ensure_local_user(state: AppState) -> None:
    async with state.sessionmaker() as session:
        found = (await session.execute(select(User).where(User.id == LOCAL_USER_ID))).scalar_one_or_none()
        if found is None:
            session.add(User(id=LOCAL_USER_ID, email=LOCAL_USER_EMAIL, role="admin", tier="enterprise"))
            await session.commit()


def create_app(
    settings: Settings | None = None,
    *,
    run_migrations: bool = True,
    environ: Mapping[str, str] | None = None,
) -> FastAPI:
    """`environ` is where runtime models (LAB_MODEL_<KEY>_*) and API keys are read from: the
    process environment unless a test passes its own mapping."""
    settings = settings or Settings()
    metrics = HttpMetrics()
    engine = create_engine(settings)
    state = AppState(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine))
    state.extras["http_metrics"] = metrics
    metrics.gauge(
        "db_connections_active",
        "Current number of active database connections",
        lambda: active_connections(engine),
    )
    install_default_checks(state)
    startup: list[StartupHook] = state.extras.setdefault("startup_hooks", [])
    shutdown: list[StartupHook] = state.extras.setdefault("shutdown_hooks", [])
    install_runtime_models(state, os.environ if environ is None else environ)
    executor = install_executor(state)
    state.extras["run_launcher"] = make_run_launcher(state, executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            await asyncio.to_thread(upgrade, settings)
        await _ensure_local_user(state)
        for hook in startup:
            await hook(state)
        try:
            yield
        finally:
            for hook in reversed(shutdown):
                await hook(state)
            await engine.dispose()

    app = FastAPI(
        title="LLM Research Lab API",
        version=__version__,
        description=(
            "Register LLMs, version datasets and prompts, run benchmark evaluations and compare experiments. "
            "The Research Lab API lives at the root; the Eval Hub API under /api/v1."
        ),
        lifespan=lifespan,
    )
    app.state.lab = state
    install_error_handlers(app)
    for router in (
        health_router,
        experiments_router,
        runs_router,
        models_router,
        prompts_router,
        evaluations_router,
        ledger_router,
        hub_router,
        ui_router,
    ):
        app.include_router(router)
    install_datasets(app, state)  # object store, /datasets, signed storage URLs
    # Auth first (inner): it resolves the principal and rate-limits; EdgeMiddleware (outer) has
    # already set the request id its error bodies carry. Refuses unsafe configurations.
    install_auth(app, state)
    if "object_store" in state.extras:
        install_dataset_rows(state)  # Research Lab runs over dataset versions
    app.add_middleware(EdgeMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    _install_openapi(app)
    return app


def _install_openapi(app: FastAPI) -> None:
    """Declare both credential kinds; every route requires one unless marked public."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        schema["security"] = [{"BearerAuth": []}, {"ApiKeyAuth": []}]
        apply_security_settings(schema, app.state.lab)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
