"""Pure ASGI middleware: resolve the principal, then apply its rate limit; every response carries
the X-RateLimit-* headers.

Resolution does not reject anything by itself: the outcome (principal, anonymous, or the 401 to give)
is left on the request state, and `get_principal` (server/deps.py) turns it into the principal or
the 401 only for routes that need one. Public routes therefore ignore credentials, and a request
with bad credentials is still rate limited (per client address), which slows token guessing.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_research_lab.errors import LabError
from llm_research_lab.server.auth.ratelimit import tier_of
from llm_research_lab.server.auth.resolver import CredentialResolver, unauthorized
from llm_research_lab.server.auth.runtime import AuthRuntime
from llm_research_lab.server.errors import render
from llm_research_lab.server.principal import Principal, local_principal
from llm_research_lab.settings import AuthMode

log = logging.getLogger("llm_research_lab.auth")

PRINCIPAL = "principal"
AUTH_ERROR = "auth_error"


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: AuthRuntime, resolver: CredentialResolver) -> None:
        self.app = app
        self.runtime = runtime
        self.resolver = resolver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request = Request(scope)
        principal: Principal | None = None
        try:
            if self.runtime.settings.auth_mode == AuthMode.DISABLED:
                principal = local_principal()
            else:
                principal = await self.resolver.resolve(
                    request.headers.get("authorization"), request.headers.get("x-api-key")
                )
            state[PRINCIPAL] = principal
            if principal is None:
                key, tier = f"ip:{client_address(scope)}", tier_of(self.runtime.settings.anonymous_tier)
            else:
                key, tier = principal.rate_key, tier_of(principal.tier, self.runtime.settings.default_tier)
        except LabError as exc:
            state[AUTH_ERROR] = exc
            key, tier = f"ip:{client_address(scope)}", tier_of(self.runtime.settings.anonymous_tier)

        try:
            decision = await self.runtime.limiter.hit(key, tier)
        except Exception as exc:
            # The shared store (Redis) is down: serve without limits rather than fail every request;
            # the `cache` health component reports it. Login throttling still fails closed.
            log.warning("rate-limit storage unavailable, not limiting: %s", type(exc).__name__)
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            await render(request, decision.error(self.runtime.clock.time()))(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in decision.headers().items()]

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_limits)


async def principal_from_request(request: Request) -> Principal:
    """Installed as app.state.principal_resolver: the principal resolved by AuthMiddleware, or 401."""
    error = getattr(request.state, AUTH_ERROR, None)
    if isinstance(error, LabError):
        raise error
    principal = getattr(request.state, PRINCIPAL, None)
    if not isinstance(principal, Principal):
        raise unauthorized()
    return principal
