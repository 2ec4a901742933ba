"""The seed's Authentication and Error Handling sections, token rotation, logout, API keys."""

from __future__ import annotations

import logging
import re

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.auth.conftest import PASSWORD, FakeClock, bearer, make_user

JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/token", json={"username": email, "password": password})


async def test_seed_authentication_section(auth_app: FastAPI, auth_client: httpx.AsyncClient) -> None:
    user = await make_user(auth_app, "researcher", email="researcher@example.com")
    # Obtain Access Token
    r = await login(auth_client, "researcher@example.com")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert JWT.match(body["access_token"]) and body["access_token"].startswith(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    )
    # Using the Access Token
    r = await auth_client.get("/experiments", headers=bearer(body["access_token"]))
    assert r.status_code == 200 and "data" in r.json()
    me = (await auth_client.get("/auth/me", headers=bearer(body["access_token"]))).json()
    assert me["id"] == str(user.id) and me["role"] == "researcher" and me["auth_method"] == "jwt"
    # Refresh Token
    r = await auth_client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 200
    assert r.json()["token_type"] == "Bearer" and r.json()["refresh_token"] != body["refresh_token"]
    # API Key Authentication
    r = await auth_client.post("/auth/api-keys", json={"name": "ci"}, headers=bearer(body["access_token"]))
    assert r.status_code == 201
    created = r.json()
    key = created["key"]
    assert key.startswith("llm-research_") and len(key) >= len("llm-research_") + 32
    assert key.startswith(created["prefix"]) and len(created["prefix"]) < len(key)
    r = await auth_client.get("/experiments", headers={"X-API-Key": key})
    assert r.status_code == 200
    listed = (await auth_client.get("/auth/api-keys", headers={"X-API-Key": key})).json()
    assert [k["prefix"] for k in listed] == [created["prefix"]]
    assert "key" not in listed[0] and listed[0]["last_used_at"] is not None


async def test_seed_error_bodies(auth_app: FastAPI, auth_client: httpx.AsyncClient) -> None:
    viewer = await make_user(auth_app, "viewer", email="viewer@example.com")
    r = await auth_client.get("/experiments", headers=bearer("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.x"))
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "unauthorized"
    assert body["message"] == "Invalid or expired authentication token"
    assert body["request_id"].startswith("req_") and r.headers["www-authenticate"] == "Bearer"
    token = (await login(auth_client, viewer.email)).json()["access_token"]
    r = await auth_client.post("/experiments", json={"name": "x"}, headers=bearer(token))
    assert r.status_code == 403
    assert r.json() == {
        "error": "forbidden",
        "message": "You do not have permission to access this resource",
        "required_permission": "experiments:write",
        "request_id": r.headers["x-request-id"],
    }


async def test_wrong_password_and_unknown_user_look_the_same(
    auth_app: FastAPI, auth_client: httpx.AsyncClient
) -> None:
    user = await make_user(auth_app, "researcher")
    wrong = await login(auth_client, user.email, "wrong password!")
    unknown = await login(auth_client, "nobody@example.com", "wrong password!")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["message"] == unknown.json()["message"]


async def test_refresh_rotation_and_reuse_revokes_family(
    auth_app: FastAPI, auth_client: httpx.AsyncClient
) -> None:
    user = await make_user(auth_app, "researcher")
    first = (await login(auth_client, user.email)).json()
    second = (await auth_client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    third = (await auth_client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})).json()
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    # An unrelated login (another family) is not affected by what follows.
    other = (await login(auth_client, user.email)).json()
    # Reuse of an already rotated token: 401, and the whole family is revoked.
    r = await auth_client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = await auth_client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert r.status_code == 401
    r = await auth_client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert r.status_code == 200
    # An access token is not a refresh token, and vice versa.
    r = await auth_client.post("/auth/refresh", json={"refresh_token": other["access_token"]})
    assert r.status_code == 401
    r = await auth_client.get("/auth/me", headers=bearer(other["refresh_token"]))
    assert r.status_code == 401


async def test_logout_revokes_access_and_family(auth_app: FastAPI, auth_client: httpx.AsyncClient) -> None:
    user = await make_user(auth_app, "researcher")
    pair = (await login(auth_client, user.email)).json()
    assert (await auth_client.get("/auth/me", headers=bearer(pair["access_token"]))).status_code == 200
    r = await auth_client.post("/auth/logout", headers=bearer(pair["access_token"]))
    assert r.status_code == 204
    assert (await auth_client.get("/auth/me", headers=bearer(pair["access_token"]))).status_code == 401
    r = await auth_client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401


async def test_access_token_expires_on_the_clock(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await make_user(auth_app, "viewer")
    pair = (await login(auth_client, user.email)).json()
    clock.advance(3599)
    assert (await auth_client.get("/auth/me", headers=bearer(pair["access_token"]))).status_code == 200
    clock.advance(1)
    assert (await auth_client.get("/auth/me", headers=bearer(pair["access_token"]))).status_code == 401
    # The refresh token still works and yields a fresh access token.
    r = await auth_client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200
    assert (await auth_client.get("/auth/me", headers=bearer(r.json()["access_token"]))).status_code == 200


async def test_key_scopes_intersect_role_and_revocation(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    researcher = await make_user(auth_app, "researcher")
    token = (await login(auth_client, researcher.email)).json()["access_token"]
    r = await auth_client.post("/auth/api-keys", json={"scopes": ["users:manage"]}, headers=bearer(token))
    assert r.status_code == 403 and r.json()["required_permission"] == "users:manage"
    r = await auth_client.post(
        "/auth/api-keys", json={"scopes": ["experiments:read"], "expires_in": "1h"}, headers=bearer(token)
    )
    assert r.status_code == 201
    created = r.json()
    key = {"X-API-Key": created["key"]}
    assert (await auth_client.get("/experiments", headers=key)).status_code == 200
    r = await auth_client.post("/experiments", json={"name": "nope"}, headers=key)
    assert r.status_code == 403 and r.json()["required_permission"] == "experiments:write"
    me = (await auth_client.get("/auth/me", headers=key)).json()
    assert me["permissions"] == ["experiments:read"] and me["auth_method"] == "api_key"
    # A key cannot mint a key with more than it has.
    r = await auth_client.post("/auth/api-keys", json={"scopes": ["models:write"]}, headers=key)
    assert r.status_code == 403
    # Someone else cannot revoke it (and does not learn it exists).
    stranger = await make_user(auth_app, "researcher")
    stoken = (await login(auth_client, stranger.email)).json()["access_token"]
    r = await auth_client.delete(f"/auth/api-keys/{created['id']}", headers=bearer(stoken))
    assert r.status_code == 404
    r = await auth_client.delete(f"/auth/api-keys/{created['id']}", headers=bearer(token))
    assert r.status_code == 204
    assert (await auth_client.get("/experiments", headers=key)).status_code == 401


async def test_last_used_is_written_at_most_once_a_minute(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await make_user(auth_app, "researcher")
    token = (await login(auth_client, user.email)).json()["access_token"]
    key = (await auth_client.post("/auth/api-keys", json={}, headers=bearer(token))).json()["key"]

    async def last_used() -> str:
        keys = (await auth_client.get("/auth/api-keys", headers=bearer(token))).json()
        return str(keys[0]["last_used_at"])

    await auth_client.get("/auth/me", headers={"X-API-Key": key})
    first = await last_used()
    clock.advance(30)
    await auth_client.get("/auth/me", headers={"X-API-Key": key})
    assert await last_used() == first
    clock.advance(31)
    await auth_client.get("/auth/me", headers={"X-API-Key": key})
    assert await last_used() != first


async def test_no_secret_in_logs_or_bodies(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_user(auth_app, "researcher")
    secret_password = "Sup3r-secret-passw0rd-XYZ"
    bad_token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViIn0.c2VjcmV0LXNpZ25hdHVyZS1YWVo"
    bad_key = "llm-research_secretsecretsecretsecretsecretXYZ1"
    caplog.set_level(logging.DEBUG)
    bodies = [
        (await login(auth_client, user.email, secret_password)).text,
        (await auth_client.post("/auth/token", json={"username": user.email})).text,
        (await auth_client.post("/auth/token", json={"username": user.email, "password": 5, "x": 1})).text,
        (await auth_client.get("/experiments", headers=bearer(bad_token))).text,
        (await auth_client.get("/experiments", headers={"X-API-Key": bad_key})).text,
        (await auth_client.post("/auth/refresh", json={"refresh_token": bad_token})).text,
    ]
    everything = "\n".join(bodies) + "\n" + caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for secret in (secret_password, bad_token, bad_key, "c2VjcmV0LXNpZ25hdHVyZS1YWVo", "secretsecret"):
        assert secret not in everything
    assert "unauthorized" in bodies[0]
