"""Pure ASGI middleware (no BaseHTTPMiddleware: it buffers streaming bodies and costs latency).

- X-Request-ID on every response (echoed when the client sends a sane one).
- Prometheus counters/histograms labelled by route template, never by raw path.
- A cap on request body size for JSON routes (uploads have their own, larger limit).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_research_lab.server.observability.metrics import HttpMetrics

_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id() -> str:
    return "req_" + secrets.token_hex(8)


class _BodyTooLarge(Exception):
    pass


class EdgeMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        max_body_bytes: int,
        unlimited_prefixes: tuple[str, ...] = ("/storage/",),
        hub_prefix: str = "/api/v1",
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.unlimited_prefixes = unlimited_prefixes
        self.hub_prefix = hub_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SANE_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope.get("path", "")
        limited = not path.startswith(self.unlimited_prefixes)
        started = time.perf_counter()
        status_holder = {"status": 500, "sent": False}

        if limited:
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._too_large(scope, send, request_id)
                self._observe(scope, 413, started)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if limited and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["sent"] = True
                raw = list(message.get("headers", []))
                raw.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if not status_holder["sent"]:
                await self._too_large(scope, send, request_id)
            status_holder["status"] = 413
        finally:
            self._observe(scope, int(status_holder["status"]), started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "<unmatched>"
        self.metrics.observe(scope.get("method", "GET"), template, status, time.perf_counter() - started)

    async def _too_large(self, scope: Scope, send: Send, request_id: str) -> None:
        body: dict[str, Any] = {
            "error": "payload_too_large",
            "message": f"Request body exceeds the limit of {self.max_body_bytes} bytes",
            "request_id": request_id,
        }
        if str(scope.get("path", "")).startswith(self.hub_prefix):
            body["detail"] = body["message"]
        raw = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode()),
                    (b"x-request-id", request_id.encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": raw})


MiddlewareFactory = Callable[[ASGIApp], ASGIApp]
