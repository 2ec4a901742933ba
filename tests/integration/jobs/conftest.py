from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from llm_research_lab.settings import Settings
from tests.fakes.openai_server import FakeServer, Script
from tests.integration.hub.helpers import client_for, fake_server, hub_settings, running_app, runtime_env


@pytest.fixture
def script() -> Script:
    return Script(model="fake-model")


@pytest.fixture
def fake(script: Script) -> Iterator[FakeServer]:
    with fake_server(script) as server:
        yield server


@pytest.fixture
def environ(fake: FakeServer) -> dict[str, str]:
    return runtime_env(fake.base_url)


@pytest.fixture
async def hub_app(settings: Settings, environ: dict[str, str]) -> AsyncIterator[FastAPI]:
    async with running_app(hub_settings(settings), environ) as app:
        yield app


@pytest.fixture
async def hub(hub_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub_app) as c:
        yield c
