"""Wire authentication and rate limiting into the app (called by create_app)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from llm_research_lab.server.auth.api import router
from llm_research_lab.server.auth.config import check_auth_config
from llm_research_lab.server.auth.middleware import AuthMiddleware, principal_from_request
from llm_research_lab.server.auth.ratelimit import RateLimiter, create_storage
from llm_research_lab.server.auth.resolver import CredentialResolver
from llm_research_lab.server.auth.runtime import EXTRA_KEY, AuthRuntime
from llm_research_lab.server.auth.tokens import TokenCodec
from llm_research_lab.server.clock import Clock
from llm_research_lab.server.health.checks import register
from llm_research_lab.server.state import AppState


def install_auth(app: FastAPI, state: AppState) -> AuthRuntime:
    """Refuses unsafe configurations (ConfigurationError) before anything is served."""
    settings = state.settings
    secret = check_auth_config(settings)
    clock = Clock()
    limiter = RateLimiter(create_storage(settings.rate_limit_url), clock, enabled=settings.rate_limit_enabled)
    runtime = AuthRuntime(settings=settings, clock=clock, codec=TokenCodec(secret, clock), limiter=limiter)
    state.extras[EXTRA_KEY] = runtime
    if not settings.rate_limit_url.removeprefix("async+").startswith("memory://"):
        register(state, "cache", runtime.limiter.ping, critical=False)
    app.state.principal_resolver = principal_from_request
    app.include_router(router)
    app.add_middleware(
        AuthMiddleware, runtime=runtime, resolver=CredentialResolver(runtime, state.sessionmaker)
    )
    return runtime


def apply_security_settings(schema: dict[str, Any], state: AppState) -> None:
    """Routes whose openness follows a setting: their documented security says which way it is set."""
    settings = state.settings
    for path, public in (
        ("/metrics", settings.metrics_public),
        ("/health/detailed", settings.health_detailed_public),
    ):
        operation = schema.get("paths", {}).get(path, {}).get("get")
        if operation is not None and public:
            operation["security"] = []
