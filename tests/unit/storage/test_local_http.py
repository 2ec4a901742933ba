"""Local backend specifics: atomic visibility, sidecar metadata, and the signed-URL router over a
real uvicorn."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from llm_research_lab.errors import LabError, UnprocessableEntityError
from llm_research_lab.storage import InvalidKeyError, LocalObjectStore, ObjectInfo
from llm_research_lab.storage.http import StorageHTTPConfig, install_storage_routes, router
from tests.unit.storage.conftest import HTTP_MAX_BYTES, agen, collect


async def test_in_progress_upload_is_invisible(local_store: LocalObjectStore) -> None:
    await local_store.put_stream("atomic/obj", b"old version")
    gate = asyncio.Event()
    upload = asyncio.create_task(local_store.put_stream("atomic/obj", agen(b"n" * 300_000, 100_000, gate)))
    await asyncio.sleep(0.05)
    assert not upload.done()
    # Mid-upload, readers still get the complete old object.
    assert await collect(local_store.open_read("atomic/obj")) == b"old version"
    stat = await local_store.stat("atomic/obj")
    assert stat is not None and stat.size == len(b"old version")
    gate.set()
    info = await upload
    assert info.size == 300_000
    assert await collect(local_store.open_read("atomic/obj")) == b"n" * 300_000


async def test_stale_sidecar_is_ignored(local_store: LocalObjectStore) -> None:
    await local_store.put_stream("meta/obj", b"abc", "text/plain")
    # Someone replaces the bytes behind our back: the recorded hash must not be trusted.
    path = local_store.root / "meta" / "obj"
    tmp = path.with_name("obj.new")
    tmp.write_bytes(b"xyz")
    os.replace(tmp, path)
    stat = await local_store.stat("meta/obj")
    assert stat is not None
    assert stat.sha256 is None and stat.content_type is None


async def test_key_that_conflicts_with_prefix_is_rejected(local_store: LocalObjectStore) -> None:
    await local_store.put_stream("a/b", b"file")
    with pytest.raises(InvalidKeyError):
        await local_store.put_stream("a/b/c", b"under a file")
    with pytest.raises(InvalidKeyError):
        await local_store.put_stream("a", b"over a directory")
    assert os.listdir(local_store.root / ".tmp") == []


async def test_http_put_over_limit_with_content_length(local_store: LocalObjectStore) -> None:
    signed = await local_store.presign_upload("http/big", expires_in=60)
    async with httpx.AsyncClient() as client:
        response = await client.put(signed.url, content=b"x" * (HTTP_MAX_BYTES + 1))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert await local_store.stat("http/big") is None
    assert os.listdir(local_store.root / ".tmp") == []


async def test_http_put_over_limit_streamed_without_length(local_store: LocalObjectStore) -> None:
    signed = await local_store.presign_upload("http/chunked", expires_in=60)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 16 MiB offered, 4 MiB allowed
            sent += 256 * 1024
            yield b"y" * (256 * 1024)

    async with httpx.AsyncClient() as client:
        try:
            response = await client.put(signed.url, content=body())
            assert response.status_code == 413
        except httpx.TransportError:
            pass  # the server may close the connection while we are still sending
    assert await local_store.stat("http/chunked") is None
    assert os.listdir(local_store.root / ".tmp") == []


async def test_upload_hook_receives_info(
    local_store: LocalObjectStore, http_config: StorageHTTPConfig
) -> None:
    seen: list[tuple[str, ObjectInfo]] = []

    async def hook(key: str, info: ObjectInfo) -> None:
        seen.append((key, info))

    http_config.register_upload_hook(hook)
    signed = await local_store.presign_upload("hooked/data.jsonl", "application/jsonl", expires_in=60)
    async with httpx.AsyncClient() as client:
        response = await client.put(signed.url, content=b'{"a": 1}\n', headers=signed.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["size"] == 9 and body["key"] == "hooked/data.jsonl"
    assert response.headers["etag"] == f'"{body["sha256"]}"'
    assert [(k, i.size, i.sha256, i.content_type) for k, i in seen] == [
        ("hooked/data.jsonl", 9, body["sha256"], "application/jsonl")
    ]


async def test_upload_hook_error_becomes_http_error(
    local_store: LocalObjectStore, http_config: StorageHTTPConfig
) -> None:
    async def reject(key: str, info: ObjectInfo) -> None:
        await local_store.delete(key)  # the hook owns the staged object's fate
        raise UnprocessableEntityError("Row 3 is not valid JSON", details={"line": 3})

    http_config.register_upload_hook(reject)
    signed = await local_store.presign_upload("hooked/bad.jsonl", expires_in=60)
    async with httpx.AsyncClient() as client:
        response = await client.put(signed.url, content=b"{not json")
    assert response.status_code == 422
    assert response.json()["error"] == "unprocessable_entity"
    assert response.json()["details"] == {"line": 3}
    assert await local_store.stat("hooked/bad.jsonl") is None


async def test_unsigned_content_type_accepts_any_header(local_store: LocalObjectStore) -> None:
    signed = await local_store.presign_upload("ct/any", expires_in=60)
    async with httpx.AsyncClient() as client:
        response = await client.put(signed.url, content=b"a,b", headers={"Content-Type": "text/csv"})
    assert response.status_code == 200
    stat = await local_store.stat("ct/any")
    assert stat is not None and stat.content_type == "text/csv"


async def test_router_refusals(local_store: LocalObjectStore) -> None:
    await local_store.put_stream("r/obj", b"data")
    get_url = httpx.URL((await local_store.presign_download("r/obj")).url)
    put_url = (await local_store.presign_upload("r/obj")).url
    async with httpx.AsyncClient() as client:
        unsigned = await client.get(get_url.copy_with(query=None))
        assert (unsigned.status_code, unsigned.json()["error"]) == (403, "invalid_signature")
        # A GET URL cannot be used to PUT, nor a PUT URL to GET.
        assert (await client.put(get_url.copy_set_param("method", "PUT"), content=b"evil")).status_code == 403
        assert (await client.get(put_url)).status_code == 403
        # Forged filename and extended expiry both break the signature.
        assert (await client.get(get_url.copy_set_param("filename", "evil.exe"))).status_code == 403
        longer = str(int(get_url.params["expires"]) + 3600)
        assert (await client.get(get_url.copy_set_param("expires", longer))).status_code == 403
        missing = await local_store.presign_download("r/missing")
        assert (await client.get(missing.url)).status_code == 404
        ok = await client.get(get_url)
    assert ok.status_code == 200 and ok.content == b"data"
    assert ok.headers["cache-control"] == "private, no-store"
    assert await collect(local_store.open_read("r/obj")) == b"data"


def _app_with_handler() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(LabError)
    async def handler(request: Request, exc: LabError) -> JSONResponse:
        return JSONResponse(exc.to_body(None), status_code=exc.status_code)

    return app


async def test_router_without_config_is_unavailable() -> None:
    app = _app_with_handler()
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/storage/objects/k?method=GET&expires=1&sig=00")
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"


async def test_install_storage_routes_over_asgi(local_store: LocalObjectStore) -> None:
    app = _app_with_handler()
    install_storage_routes(app, StorageHTTPConfig(store=local_store, max_bytes=10))
    signed = await local_store.presign_upload("asgi/obj")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        ok = await client.put(signed.url, content=b"0123456789")
        too_big = await client.put(signed.url, content=b"0123456789A")
    assert ok.status_code == 200
    assert too_big.status_code == 413
    assert await collect(local_store.open_read("asgi/obj")) == b"0123456789"
