"""The seed's Rate Limiting section: tiers, burst, headers, 429 body; failed-login throttling; Redis."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from llm_research_lab.server.app import create_app
from llm_research_lab.server.auth.runtime import auth_runtime
from llm_research_lab.settings import Settings
from tests.integration.auth.conftest import PASSWORD, FakeClock, bearer, client_for, make_user, tokens_for


async def test_headers_on_every_response(auth_app: FastAPI, auth_client: httpx.AsyncClient) -> None:
    user = await make_user(auth_app, "researcher", tier="standard")
    token, _ = await tokens_for(auth_app, user)
    r = await auth_client.get("/experiments", headers=bearer(token))
    assert r.headers["x-ratelimit-limit"] == "1000"
    assert r.headers["x-ratelimit-remaining"] == "999"
    reset = int(r.headers["x-ratelimit-reset"])
    clock = auth_runtime(auth_app.state.lab).clock
    assert 0 < reset - clock.time() <= 3600 and reset % 3600 == 0
    # Error responses and anonymous public routes carry them too.
    assert "x-ratelimit-remaining" in (await auth_client.get("/experiments")).headers
    assert "x-ratelimit-limit" in (await auth_client.get("/health")).headers


async def test_free_tier_burst_and_hourly_limits(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await make_user(auth_app, "viewer", tier="free")
    token, _ = await tokens_for(auth_app, user)
    headers = bearer(token)
    for i in range(10):  # burst: 10 a minute
        r = await auth_client.get("/auth/me", headers=headers)
        assert r.status_code == 200, i
    r = await auth_client.get("/auth/me", headers=headers)
    assert r.status_code == 429
    body = r.json()
    assert body["error"] == "rate_limit_exceeded"
    assert body["limit"] == 10 and body["remaining"] == 0
    assert body["retry_after"] == 60 and r.headers["retry-after"] == "60"
    assert body["message"] == "Rate limit exceeded. Please retry after 60 seconds."
    assert body["reset_at"] == datetime.fromtimestamp(clock.time() + 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["request_id"] == r.headers["x-request-id"]
    clock.advance(20)
    r = await auth_client.get("/auth/me", headers=headers)
    assert r.status_code == 429 and r.json()["retry_after"] == 40
    # Next minute: the burst budget is back; the hourly one keeps counting (100 an hour).
    sent = 12
    while sent < 100:
        clock.advance(60)
        for _ in range(min(10, 100 - sent)):
            r = await auth_client.get("/auth/me", headers=headers)
            assert r.status_code == 200, (sent, r.text)
            sent += 1
    assert r.headers["x-ratelimit-remaining"] == "0" and r.headers["x-ratelimit-limit"] == "100"
    clock.advance(60)
    r = await auth_client.get("/auth/me", headers=headers)
    assert r.status_code == 429 and r.json()["limit"] == 100
    assert r.json()["retry_after"] == int(r.headers["x-ratelimit-reset"]) - int(clock.time())
    clock.advance(int(r.json()["retry_after"]))
    fresh, _ = await tokens_for(auth_app, user)  # the first access token has expired by now
    assert (await auth_client.get("/auth/me", headers=bearer(fresh))).status_code == 200


async def test_limits_are_per_principal_and_enterprise_is_unlimited(
    auth_app: FastAPI, auth_client: httpx.AsyncClient
) -> None:
    a = await make_user(auth_app, "viewer", tier="free")
    b = await make_user(auth_app, "viewer", tier="free")
    boss = await make_user(auth_app, "viewer", tier="enterprise")
    ta, tb, tboss = [(await tokens_for(auth_app, u))[0] for u in (a, b, boss)]
    for _ in range(10):
        await auth_client.get("/auth/me", headers=bearer(ta))
    assert (await auth_client.get("/auth/me", headers=bearer(ta))).status_code == 429
    assert (await auth_client.get("/auth/me", headers=bearer(tb))).status_code == 200
    for _ in range(300):
        r = await auth_client.get("/auth/me", headers=bearer(tboss))
    assert r.status_code == 200 and r.headers["x-ratelimit-limit"] == "unlimited"


async def test_anonymous_limited_per_address(auth_settings: Settings, clock: FakeClock) -> None:
    app = create_app(auth_settings.model_copy(update={"anonymous_tier": "free"}), run_migrations=False)
    auth_runtime(app.state.lab).set_clock(clock)
    async with app.router.lifespan_context(app):

        async def get(address: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(address, 1234))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.get("/health")

        statuses = [(await get("10.0.0.1")).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]
        assert (await get("10.0.0.2")).status_code == 200


async def test_failed_logins_are_throttled(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await make_user(auth_app, "researcher")
    for _ in range(5):
        r = await auth_client.post("/auth/token", json={"username": user.email, "password": "wrong-password"})
        assert r.status_code == 401
    # Even the right password is refused while the account is throttled.
    r = await auth_client.post("/auth/token", json={"username": user.email, "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"] == "rate_limit_exceeded" and "retry-after" in r.headers
    clock.advance(60)
    r = await auth_client.post("/auth/token", json={"username": user.email, "password": PASSWORD})
    assert r.status_code == 200
    # Per address: 20 failures a minute across any accounts.
    clock.advance(60)
    for i in range(20):
        r = await auth_client.post(
            "/auth/token", json={"username": f"ghost{i}@example.com", "password": "wrong-password"}
        )
        assert r.status_code == 401
    r = await auth_client.post("/auth/token", json={"username": user.email, "password": PASSWORD})
    assert r.status_code == 429


async def test_local_mode_is_unlimited_but_sends_headers(client: httpx.AsyncClient) -> None:
    for _ in range(60):
        r = await client.get("/experiments")
    assert r.status_code == 200
    assert r.headers["x-ratelimit-limit"] == "unlimited" and "x-ratelimit-reset" in r.headers


REDIS_URL = os.environ.get("LAB_TEST_REDIS_URL")


@pytest.mark.redis
async def test_redis_budget_is_shared_by_two_app_instances(auth_settings: Settings, clock: FakeClock) -> None:
    assert REDIS_URL, "LAB_TEST_REDIS_URL is not set (deselect with -m 'not redis')"
    settings = auth_settings.model_copy(update={"rate_limit_url": REDIS_URL})
    first, second = create_app(settings, run_migrations=False), create_app(settings, run_migrations=False)
    # A fresh window on the fake clock, so leftovers in the Redis database cannot interfere.
    clock.t = 1_900_000_000 + (uuid.uuid4().int % 10_000) * 3600
    for app in (first, second):
        auth_runtime(app.state.lab).set_clock(clock)
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        user = await make_user(first, "viewer", tier="free")
        token, _ = await tokens_for(first, user)
        async with client_for(first) as c1, client_for(second) as c2:
            statuses = []
            for i in range(10):
                statuses.append(
                    (await (c1 if i % 2 else c2).get("/auth/me", headers=bearer(token))).status_code
                )
            assert statuses == [200] * 10
            r = await c1.get("/auth/me", headers=bearer(token))
            assert r.status_code == 429, "the two instances do not share one budget"
            r2 = await c2.get("/auth/me", headers=bearer(token))
            assert r2.status_code == 429
            ready = (await c1.get("/health/ready")).json()
            assert ready["components"]["cache"] == "healthy"


async def test_cache_component_unhealthy_when_redis_unreachable(auth_settings: Settings) -> None:
    settings = auth_settings.model_copy(update={"rate_limit_url": "redis://127.0.0.1:1/0"})
    app = create_app(settings, run_migrations=False)
    async with app.router.lifespan_context(app), client_for(app) as c:
        r = await c.get("/health/ready")
        assert r.status_code == 200  # not critical: limits fail open, the probe says why
        assert r.json()["components"]["cache"] == "unhealthy"
