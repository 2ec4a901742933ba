"""Auth-enabled app fixtures (the shared `settings` fixture runs with auth disabled)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from llm_research_lab.server.app import create_app
from llm_research_lab.server.auth.runtime import auth_runtime
from llm_research_lab.server.auth.service import AuthService, UserService
from llm_research_lab.server.clock import Clock
from llm_research_lab.server.db.models import User
from llm_research_lab.settings import AuthMode, Settings

SECRET = "test-secret-" + "s" * 40
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without LAB_TEST_REDIS_URL the Redis test is deselected (not skipped); .ci/run sets it,
    and when it is set but Redis is unreachable the test fails."""
    if os.environ.get("LAB_TEST_REDIS_URL"):
        return
    deselected = [i for i in items if i.get_closest_marker("redis")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [i for i in items if not i.get_closest_marker("redis")]


class FakeClock(Clock):
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def time(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def auth_settings_from(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update={"auth_mode": AuthMode.REQUIRED, "jwt_secret": SECRET, **overrides})


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return auth_settings_from(settings)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def auth_app(auth_settings: Settings, clock: FakeClock) -> AsyncIterator[FastAPI]:
    application = create_app(auth_settings, run_migrations=False)
    auth_runtime(application.state.lab).set_clock(clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def auth_client(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(auth_app) as c:
        yield c


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def make_user(
    app: FastAPI, role: str, *, tier: str = "standard", email: str | None = None, password: str = PASSWORD
) -> User:
    """Through the same service the CLI uses."""
    async with app.state.lab.sessionmaker() as session:
        user = await UserService(session).create(
            email or f"{role}-{uuid.uuid4().hex[:8]}@example.com", password, role, tier
        )
        await session.commit()
        return user


async def tokens_for(app: FastAPI, user: User) -> tuple[str, str]:
    """(access, refresh) without a password round trip (argon2 is deliberately slow)."""
    async with app.state.lab.sessionmaker() as session:
        pair = await AuthService(session, auth_runtime(app.state.lab)).issue(user, family=uuid.uuid4())
        await session.commit()
        return pair.access_token, pair.refresh_token


@dataclass
class Actor:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
