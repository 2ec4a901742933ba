"""One live server for the SDK tests of this session (each test uses fresh names)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from llm_research_lab import AsyncClient, Client
from tests.livesrv import LiveServer, live_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("sdk-server") / "data"
    with live_server(data_dir) as srv:
        yield srv


@pytest.fixture(scope="session")
def dataset_id(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A dataset with content (starting an experiment needs one that exists)."""
    rows = tmp_path_factory.mktemp("rows") / "qa.jsonl"
    rows.write_text('{"question": "1+1", "answer": "2"}\n{"question": "2+2", "answer": "4"}\n')
    with Client(base_url=server.base_url) as client:
        dataset = client.datasets.create("sdk-tests-qa")
        client.datasets.upload(dataset.id, rows)
        return str(dataset.id)


@pytest.fixture
def lab(server: LiveServer) -> Iterator[Client]:
    with Client(api_key="unused-in-disabled-mode", base_url=server.base_url) as client:
        yield client


@pytest.fixture
async def alab(server: LiveServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(api_key="unused-in-disabled-mode", base_url=server.base_url) as client:
        yield client
