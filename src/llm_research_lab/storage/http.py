"""HTTP endpoints behind the local backend's signed URLs.

``GET|PUT /storage/objects/{key}?method=...&expires=...&sig=...``: no bearer token, the signature
is the authorisation (as with S3 presigned URLs), so a browser or ``curl`` can use the URL as is.

Mounting (in ``create_app``)::

    config = StorageHTTPConfig(store=local_store, max_bytes=settings.max_upload_bytes)
    install_storage_routes(app, config)          # app.state.storage_http + include_router
    ...
    config.register_upload_hook(datasets_service.on_upload_complete)

The router reads its config from ``request.app.state.storage_http`` through
`get_storage_http_config`, so tests can also use ``app.dependency_overrides``. Errors are
`LabError` subclasses (the app's handler renders the envelope); the upload hook's exceptions
propagate unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from llm_research_lab.errors import ServiceUnavailableError
from llm_research_lab.storage.base import DEFAULT_CHUNK_SIZE, ObjectInfo, content_disposition, validate_key
from llm_research_lab.storage.errors import (
    ExpiredURLError,
    ObjectTooLargeError,
    SignatureError,
)
from llm_research_lab.storage.local import LocalObjectStore
from llm_research_lab.storage.signing import OBJECTS_ROUTE

#: Called after a signed PUT stored the object, before the response is sent; it decides what the
#: staged upload becomes (validate, promote with ``store.copy``, delete...). Raise a `LabError` to
#: answer the client with that error.
UploadHook = Callable[[str, ObjectInfo], Awaitable[None]]

DEFAULT_MAX_UPLOAD_BYTES = 5 * 1024**3  # matches S3's single-PUT limit, so both backends agree


@dataclass
class StorageHTTPConfig:
    """What the storage router needs; one instance per app, kept in ``app.state.storage_http``."""

    store: LocalObjectStore
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    on_upload_complete: UploadHook | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def register_upload_hook(self, hook: UploadHook | None) -> None:
        """Set (or clear, with ``None``) the hook; the datasets service calls this at start-up."""
        self.on_upload_complete = hook


def get_storage_http_config(request: Request) -> StorageHTTPConfig:
    config = getattr(request.app.state, "storage_http", None)
    if not isinstance(config, StorageHTTPConfig):
        raise ServiceUnavailableError("Signed storage URLs are not enabled on this server")
    return config


StorageHTTPDep = Annotated[StorageHTTPConfig, Depends(get_storage_http_config)]

router = APIRouter(tags=["storage"])


def install_storage_routes(app: FastAPI, config: StorageHTTPConfig) -> None:
    """Mount `router` at the root (the signed URLs carry the full path) and store ``config``."""
    app.state.storage_http = config
    app.include_router(router)


def _require(method: str | None, expected: str, expires: str | None, sig: str | None) -> tuple[str, str]:
    if not sig or not expires:
        raise SignatureError("Missing 'expires' or 'sig': this URL is not a signed storage URL")
    if (method or "").upper() != expected:
        raise SignatureError(f"This signed URL is not valid for {expected}")
    return expires, sig


# Public (OpenAPI security: []): the signature in the URL is the credential.
@router.get(f"{OBJECTS_ROUTE}/{{key:path}}", response_class=StreamingResponse, openapi_extra={"security": []})
async def download_object(
    key: str,
    config: StorageHTTPDep,
    method: Annotated[str | None, Query()] = None,
    expires: Annotated[str | None, Query()] = None,
    sig: Annotated[str | None, Query()] = None,
    filename: Annotated[str | None, Query()] = None,
) -> StreamingResponse:
    expires, sig = _require(method, "GET", expires, sig)
    config.store.signer.verify("GET", key, expires, sig, filename=filename)
    validate_key(key)
    info, chunks = await config.store.open_with_info(key, chunk_size=config.chunk_size)
    headers = {
        "Content-Length": str(info.size),
        "Content-Disposition": content_disposition(filename or key.rsplit("/", 1)[-1]),
        # The URL is a bearer credential: keep shared caches from storing the response.
        "Cache-Control": "private, no-store",
    }
    if info.sha256:
        headers["ETag"] = f'"{info.sha256}"'
    return StreamingResponse(
        chunks, media_type=info.content_type or "application/octet-stream", headers=headers
    )


@router.put(f"{OBJECTS_ROUTE}/{{key:path}}", openapi_extra={"security": []})
async def upload_object(
    key: str,
    request: Request,
    config: StorageHTTPDep,
    method: Annotated[str | None, Query()] = None,
    expires: Annotated[str | None, Query()] = None,
    sig: Annotated[str | None, Query()] = None,
) -> JSONResponse:
    expires, sig = _require(method, "PUT", expires, sig)
    content_type = request.headers.get("content-type") or None
    signer = config.store.signer
    try:
        signer.verify("PUT", key, expires, sig, content_type)
    except ExpiredURLError:
        raise
    except SignatureError:
        # A URL presigned without a Content-Type accepts any (as on S3); one presigned with a
        # Content-Type only matches that exact header, which the first check tried.
        if content_type is None:
            raise
        signer.verify("PUT", key, expires, sig, None)
    validate_key(key)

    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.max_bytes:
        # Refuse before reading a byte when the client announces the size.
        raise ObjectTooLargeError(
            f"Upload of {declared} bytes exceeds the maximum of {config.max_bytes} bytes",
            details={"limit": config.max_bytes},
        )
    # put_stream stops reading at the first chunk over max_bytes and removes its temp file.
    info = await config.store.put_stream(key, request.stream(), content_type, max_bytes=config.max_bytes)
    if config.on_upload_complete is not None:
        await config.on_upload_complete(key, info)
    return JSONResponse(
        {"key": info.key, "size": info.size, "sha256": info.sha256, "content_type": info.content_type},
        headers={"ETag": f'"{info.sha256}"'},
    )
