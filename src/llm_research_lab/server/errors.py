"""One place that turns every failure into the error envelope with a request_id."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_research_lab.errors import (
    BadRequestError,
    InternalError,
    LabError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)

log = logging.getLogger("llm_research_lab.errors")

HUB_PREFIX = "/api/v1"


def request_id_of(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


def render(request: Request, exc: LabError) -> JSONResponse:
    body = exc.to_body(request_id_of(request))
    if request.url.path.startswith(HUB_PREFIX):
        body["detail"] = exc.message if exc.details is None else {"message": exc.message, **exc.details}
    return JSONResponse(body, status_code=exc.http_status, headers=exc.headers or None)


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _clean(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


def validation_error_from(errors: list[dict[str, Any]]) -> LabError:
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        ctx = first.get("ctx") or {}
        return BadRequestError(
            f"Malformed JSON body: {ctx.get('error', 'could not parse')}", details={"fields": {}}
        ).with_code("validation_error")
    fields: dict[str, str] = {}
    for err in errors:
        path = _loc_to_path(tuple(err.get("loc", ())))
        fields.setdefault(path, _clean(str(err.get("msg", "Invalid value"))))
    in_query = all(str((e.get("loc") or ("",))[0]) in {"query", "path"} for e in errors)
    return ValidationError.from_fields(fields, "Invalid query parameters" if in_query else None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LabError)
    async def lab_error(request: Request, exc: LabError) -> JSONResponse:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(request, validation_error_from(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        mapped: LabError
        if exc.status_code == 404:
            mapped = NotFoundError(f"No route for {request.method} {request.url.path}")
        elif exc.status_code == 405:
            mapped = MethodNotAllowedError(f"Method {request.method} not allowed on {request.url.path}")
        elif exc.status_code == 413:
            mapped = PayloadTooLargeError(str(exc.detail))
        elif exc.status_code == 415:
            mapped = UnsupportedMediaTypeError(str(exc.detail))
        else:
            mapped = LabError(str(exc.detail)).with_status(exc.status_code)
        if exc.headers:
            mapped.headers.update(exc.headers)
        return render(request, mapped)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The stack trace goes to the log with the request id, never to the client.
        log.exception("unhandled error (request_id=%s)", request_id_of(request))
        return render(request, InternalError())
