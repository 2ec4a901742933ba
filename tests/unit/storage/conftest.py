"""Fixtures for the storage suite: both backends behind one ``store`` fixture, a real SeaweedFS
S3 server (started once per session), and a real uvicorn serving the local signed-URL router."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from llm_research_lab.errors import LabError
from llm_research_lab.storage import LocalObjectStore, ObjectStore, S3ObjectStore, URLSigner
from llm_research_lab.storage.http import StorageHTTPConfig, router
from tests.fakes.seaweedfs import SeaweedS3, run_seaweedfs

SECRET = "unit-test-signing-secret-0123456789"
TEST_BUCKET = "lab-storage-tests"
HTTP_MAX_BYTES = 4 * 1024 * 1024


@dataclass
class LiveServer:
    url: str
    app: FastAPI


def _build_app() -> FastAPI:
    app = FastAPI()

    # Stand-in for the server's shared LabError handler: same envelope shape.
    @app.exception_handler(LabError)
    async def _lab_error(request: Request, exc: LabError) -> JSONResponse:
        return JSONResponse(exc.to_body(None), status_code=exc.status_code, headers=exc.headers)

    app.include_router(router)
    return app


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """A real uvicorn on a free loopback port in a background thread, so signed URLs are
    exercised over real HTTP (Content-Length, early 413, streaming)."""
    app = _build_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[SeaweedS3]:
    with run_seaweedfs(bucket=TEST_BUCKET) as server:
        yield server


@pytest.fixture(scope="session")
def s3_client(seaweedfs: SeaweedS3) -> Iterator[Any]:
    # Building a boto3 client costs ~0.3 s; one shared (thread-safe) client keeps tests quick.
    client = S3ObjectStore.from_url(
        f"s3://{seaweedfs.bucket}",
        endpoint_url=seaweedfs.endpoint_url,
        access_key=seaweedfs.access_key,
        secret_key=seaweedfs.secret_key,
        region=seaweedfs.region,
    )._client
    yield client
    client.close()


@pytest.fixture
def local_store(tmp_path: Path, live_server: LiveServer) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "objects", URLSigner(SECRET, live_server.url))
    live_server.app.state.storage_http = StorageHTTPConfig(store=store, max_bytes=HTTP_MAX_BYTES)
    return store


@pytest.fixture
def http_config(local_store: LocalObjectStore, live_server: LiveServer) -> StorageHTTPConfig:
    config = live_server.app.state.storage_http
    assert isinstance(config, StorageHTTPConfig)
    return config


@pytest.fixture
def s3_store(seaweedfs: SeaweedS3, s3_client: Any) -> S3ObjectStore:
    # One bucket for the session (created while waiting for readiness), a fresh prefix per test.
    return S3ObjectStore(s3_client, seaweedfs.bucket, f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    # Sync on purpose: an async fixture cannot resolve another async fixture dynamically.
    name = "local_store" if request.param == "local" else "s3_store"
    value = request.getfixturevalue(name)
    assert isinstance(value, ObjectStore)
    return value


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def agen(data: bytes, chunk: int = 65_536, pause: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        if pause is not None and start > 0:
            await pause.wait()
        yield data[start : start + chunk]
