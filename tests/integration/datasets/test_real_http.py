"""The seed's upload, verbatim with curl, against a real uvicorn serving the app (local backend)."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from llm_research_lab.server.app import create_app
from llm_research_lab.settings import Settings
from tests.integration.datasets.helpers import SEED_DATASET, SEED_UPLOAD, rows_jsonl


@pytest.fixture(params=["local"])
def storage_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)  # curl PUTs to our own signed URL; S3 is covered by the ASGI suite


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    port = _free_port()
    live = settings.model_copy(update={"port": port})
    config = uvicorn.Config(
        create_app(live, run_migrations=False), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(srv.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=20)


def test_curl_put_data_binary(server: str, tmp_path: Path) -> None:
    data = rows_jsonl(40)
    path = tmp_path / SEED_UPLOAD["filename"]
    path.write_bytes(data)
    with httpx.Client(base_url=server) as http:
        ds = http.post("/datasets", json=SEED_DATASET).json()
        grant = http.post(f"/datasets/{ds['id']}/upload", json=SEED_UPLOAD).json()
        done = subprocess.run(
            ["curl", "-sS", "-X", "PUT", grant["upload_url"], "-H", "Content-Type: application/jsonl",
             "--data-binary", f"@{path}", "-w", "\n%{http_code}"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        body, _, code = done.stdout.rpartition("\n")
        assert code == "200", done.stdout + done.stderr
        assert httpx.Response(200, content=body).json()["row_count"] == 40
        got = http.get(f"/datasets/{ds['id']}").json()
        assert got["row_count"] == 40 and got["sha256"] == hashlib.sha256(data).hexdigest()
        url = http.get(f"/datasets/{ds['id']}/download").json()["download_url"]
        fetched = subprocess.run(["curl", "-sS", "-f", url], capture_output=True, timeout=60, check=True)
        assert fetched.stdout == data
