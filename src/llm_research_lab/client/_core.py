"""The SDK's one implementation: every call is a *sans-I/O operation*.

Why generators
--------------
`Client` (blocking) and `AsyncClient` (asyncio) must behave identically: the same retries on
429/503 honouring ``Retry-After``, the same transparent token refresh on an expired access token,
the same error mapping, cursor pagination and polling. Instead of writing that logic twice, or
running an event loop on a private thread behind the blocking client (which breaks under
``fork``, hides tracebacks behind a thread hop and makes the sync client pay for asyncio), each
operation is written once as a generator that *yields instructions* and *receives results*::

    def get_experiment(core, id) -> Op[s.Experiment]:
        body = yield from core.json("GET", f"/experiments/{id}")
        return s.Experiment.model_validate(body)

The instructions are two: :class:`HttpCall` (send one HTTP request, give back the response) and
:class:`Sleep`. A driver executes them: :func:`llm_research_lab.client._drivers.run_sync` with an
``httpx.Client`` and ``time.sleep``, :func:`run_async` with an ``httpx.AsyncClient`` and
``asyncio.sleep``. The drivers are about thirty lines each and contain no product logic; the
public ``Client``/``AsyncClient`` classes are thin typed facades (one line per method) over the
shared operations, so the two can only differ in how they wait.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from llm_research_lab.errors import (
    ERRORS_BY_CODE,
    InternalError,
    LabError,
    RateLimitError,
    ServiceUnavailableError,
    UnauthorizedError,
)

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class HttpCall:
    """Send one request. ``url`` is a path relative to the base URL or an absolute URL.

    ``content_factory`` gives a fresh body per attempt (so a streamed upload can be retried);
    ``sink`` receives a successful response body in chunks instead of buffering it.
    """

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_factory: Callable[[], Iterable[bytes] | bytes] | None = None
    sink: Path | IO[bytes] | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


Instruction = HttpCall | Sleep
# An operation: yields instructions, receives an httpx.Response (or None after a Sleep).
Op = Generator[Instruction, Any, T]


@dataclass(slots=True)
class ClientConfig:
    """Connection settings shared by both clients. Built once in the client constructor."""

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    max_retries: int = 3
    max_backoff: float = 30.0
    backoff_base: float = 0.5
    user_agent: str = "llm-research-lab-python"


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response) -> LabError:
    """Map an error response to the LabError subclass named by the envelope's ``error`` code."""
    try:
        body = response.json()
    except ValueError:
        body = None
    request_id = response.headers.get("x-request-id")
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        cls: type[LabError] = _by_status(response.status_code)
        text = response.text.strip()[:500] if response.content else ""
        exc = _build(cls, text or f"HTTP {response.status_code}", None, {})
        exc.request_id = request_id
        exc.with_status(response.status_code)
        return exc
    code = str(body["error"])
    message = str(body.get("message") or body.get("detail") or code)
    details = body.get("details") if isinstance(body.get("details"), dict) else None
    extra = {k: v for k, v in body.items() if k not in {"error", "message", "details", "request_id"}}
    cls = ERRORS_BY_CODE.get(code) or _by_status(response.status_code)
    exc = _build(cls, message, details, extra)
    exc.request_id = body.get("request_id") or request_id
    if exc.error_code != code:
        exc.with_code(code)
    if exc.http_status != response.status_code:
        exc.with_status(response.status_code)
    if isinstance(exc, RateLimitError) and exc.retry_after is None:
        after = _parse_retry_after(response.headers.get("retry-after"))
        if after is not None:
            exc.extra["retry_after"] = int(after)
    return exc


def _by_status(status: int) -> type[LabError]:
    for cls in ERRORS_BY_CODE.values():
        if cls.status_code == status:
            return cls
    return ServiceUnavailableError if status == 503 else InternalError


def _build(
    cls: type[LabError], message: str, details: dict[str, Any] | None, extra: dict[str, Any]
) -> LabError:
    # PermissionDeniedError takes required_permission positionally; every other class takes kwargs.
    from llm_research_lab.errors import PermissionDeniedError

    if cls is PermissionDeniedError:
        perm = str(extra.pop("required_permission", "") or "")
        exc: LabError = PermissionDeniedError(perm, message, details=details, **extra)
        return exc
    return cls(message, details=details, **extra)


class Core:
    """Auth state and the request pipeline (auth → send → retry → refresh → map errors)."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.access_expires_at: float | None = None

    # -- auth ---------------------------------------------------------------------------
    @property
    def uses_password(self) -> bool:
        return self.config.api_key is None and self.config.username is not None

    def auth_headers(self) -> dict[str, str]:
        if self.config.api_key:
            return {"X-API-Key": self.config.api_key}
        if self.access_token:
            return {"Authorization": f"Bearer {self.access_token}"}
        return {}

    def _store_tokens(self, body: Mapping[str, Any]) -> None:
        self.access_token = str(body["access_token"])
        self.refresh_token = body.get("refresh_token") or self.refresh_token
        expires = body.get("expires_in")
        self.access_expires_at = time.monotonic() + float(expires) if expires else None

    def login(self) -> Op[dict[str, Any]]:
        """POST /auth/token with the configured username and password."""
        payload = {"username": self.config.username, "password": self.config.password}
        response = yield from self._send(HttpCall("POST", "/auth/token", json=payload), auth=False)
        body: dict[str, Any] = response.json()
        self._store_tokens(body)
        return body

    def refresh(self) -> Op[bool]:
        """POST /auth/refresh; False when there is no refresh token or it was refused."""
        if not self.refresh_token:
            return False
        call = HttpCall("POST", "/auth/refresh", json={"refresh_token": self.refresh_token})
        try:
            response = yield from self._send(call, auth=False)
        except UnauthorizedError:
            self.refresh_token = None
            return False
        self._store_tokens(response.json())
        return True

    def _ensure_token(self) -> Op[None]:
        if not self.uses_password:
            return
        expired = self.access_expires_at is not None and time.monotonic() > self.access_expires_at - 30
        if self.access_token is None or (expired and not (yield from self.refresh())):
            yield from self.login()

    # -- pipeline -------------------------------------------------------------------------
    def request(self, call: HttpCall, *, auth: bool = True) -> Op[httpx.Response]:
        """Send with auth; on 401 with a password login, refresh (or log in again) once."""
        if auth:
            yield from self._ensure_token()
        try:
            return (yield from self._send(call, auth=auth))
        except UnauthorizedError:
            if not (auth and self.uses_password):
                raise
        if not (yield from self.refresh()):
            yield from self.login()
        return (yield from self._send(call, auth=auth))

    def _send(self, call: HttpCall, *, auth: bool) -> Op[httpx.Response]:
        headers = {"User-Agent": self.config.user_agent, **call.headers}
        if auth:
            headers.update(self.auth_headers())
        attempt = 0
        while True:
            try:
                response: httpx.Response = yield _with_headers(call, headers)
            except httpx.ConnectError:
                # The request never reached the server, so any method may be retried.
                if attempt >= self.config.max_retries:
                    raise
                yield Sleep(self._backoff(attempt))
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            error = error_from_response(response)
            if response.status_code not in RETRY_STATUSES or attempt >= self.config.max_retries:
                raise error
            # 429 and 503 mean the request was not processed: safe to retry any method.
            delay = _parse_retry_after(response.headers.get("retry-after"))
            if delay is None and isinstance(error, RateLimitError) and error.retry_after is not None:
                delay = float(error.retry_after)
            if delay is None:
                delay = self._backoff(attempt)
            elif delay > self.config.max_backoff:
                raise error  # the server asks for a longer wait than we may spend: say so now
            yield Sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        base: float = self.config.backoff_base * (2**attempt)
        return float(min(self.config.max_backoff, base * (0.5 + random.random() / 2)))

    # -- helpers used by the resource operations -----------------------------------------
    def json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        auth: bool = True,
    ) -> Op[Any]:
        response = yield from self.request(
            HttpCall(method, url, params=_clean_params(params), json=json), auth=auth
        )
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text


def _with_headers(call: HttpCall, headers: dict[str, str]) -> HttpCall:
    return HttpCall(
        call.method,
        call.url,
        params=call.params,
        json=call.json,
        headers=headers,
        content_factory=call.content_factory,
        sink=call.sink,
    )


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple | set | frozenset):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out
