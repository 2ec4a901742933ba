"""Authorization matrix, generated from the application's own route table.

Every APIRoute of the app built by create_app is exercised, so routes added later (datasets, the
/api/v1 hub, storage) are covered without editing this file. A route must either be public
(OpenAPI `security: []`, e.g. `openapi_extra=PUBLIC`) or declare what it needs through a dependency
carrying `required_permission` (server/deps.py `requires`/`Allowed`, or `AuthenticatedDep`).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from llm_research_lab.server.auth.runtime import auth_runtime
from llm_research_lab.server.auth.service import ApiKeyService, principal_for
from llm_research_lab.server.auth.tokens import ACCESS, TokenCodec
from llm_research_lab.server.deps import AUTHENTICATED
from llm_research_lab.server.principal import ROLE_PERMISSIONS
from tests.integration.auth.conftest import SECRET, FakeClock, bearer, make_user, tokens_for

ENVELOPE_KEYS = {"error", "message", "required_permission", "request_id", "detail", "details"}
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def api_routes(app: FastAPI) -> Iterator[tuple[Any, str]]:
    """Every API route with its effective path (prefixes applied), as the OpenAPI generator sees it."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods or ()):
                yield context, method


def declared_permissions(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    for dep in dependant.dependencies:
        perm = getattr(dep.call, "required_permission", None)
        if isinstance(perm, str):
            found.add(perm)
        found |= declared_permissions(dep)
    return found


def is_public(app: FastAPI, route: Any, method: str) -> bool:
    operation = app.openapi().get("paths", {}).get(route.path_format, {}).get(method.lower())
    if operation is not None:
        return operation.get("security") == []
    return (route.openapi_extra or {}).get("security") == []


def role_allows(role: str, perms: set[str]) -> bool:
    return all(p == AUTHENTICATED or p in ROLE_PERMISSIONS[role] for p in perms)


def fill_path(template: str, known: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in known:
            return known[name]
        return str(uuid.uuid4()) if name.endswith("id") else "placeholder"

    return _PARAM.sub(one, template)


def forged(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature)])


async def test_every_route_is_public_or_declares_a_permission(auth_app: FastAPI) -> None:
    undeclared = [
        f"{method} {route.path}"
        for route, method in api_routes(auth_app)
        if not is_public(auth_app, route, method) and not declared_permissions(route.dependant)
    ]
    assert undeclared == [], f"routes without a declared permission and not marked public: {undeclared}"
    # The matrix below is only meaningful if it sees the real route table.
    paths = {route.path for route, _ in api_routes(auth_app)}
    assert {"/experiments", "/experiments/{experiment_id}", "/auth/token", "/auth/api-keys"} <= paths


async def _bad_credentials(app: FastAPI, clock: FakeClock) -> dict[str, dict[str, str]]:
    """Credentials that must all be refused with 401."""
    victim = await make_user(app, "admin")
    good, _ = await tokens_for(app, victim)
    claims = {"sub": str(victim.id), "role": "admin", "typ": ACCESS, "jti": uuid.uuid4().hex}
    now = int(clock.time())
    expired, _ = TokenCodec(SECRET, FakeClock(clock.time() - 7200)).encode(
        sub=victim.id, role="admin", typ=ACCESS, ttl_s=3600
    )
    head, body, sig = good.split(".")
    tampered_sig = f"{head}.{body}.{sig[:-4]}{'AAAA' if not sig.endswith('AAAA') else 'BBBB'}"
    import jwt

    hs384 = jwt.encode({**claims, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS384")
    alg_none = forged({"alg": "none", "typ": "JWT"}, {**claims, "iat": now, "exp": now + 3600})
    runtime = auth_runtime(app.state.lab)
    async with app.state.lab.sessionmaker() as session:
        keys = ApiKeyService(session, clock.now())
        revoked_row, revoked_key = await keys.create(principal_for(victim))
        await keys.revoke(principal_for(victim), str(revoked_row.id))
        _, expiring_key = await keys.create(principal_for(victim), expires_at=clock.now().replace(year=2100))
        await session.commit()
    del runtime
    return {
        "expired token": bearer(expired),
        "bad signature": bearer(tampered_sig),
        "alg none": bearer(alg_none),
        "alg HS384": bearer(hs384),
        "refresh token as access": bearer((await tokens_for(app, victim))[1]),
        "garbage bearer": bearer("not-a-jwt"),
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "revoked key": {"X-API-Key": revoked_key},
        "unknown key": {"X-API-Key": "llm-research_" + "x" * 43},
        # expires in 2100 on the fake clock: jump the clock past it for this one below
        "_expiring key": {"X-API-Key": expiring_key},
    }


@pytest.fixture
def auth_settings(settings: Any) -> Any:
    from tests.integration.auth.conftest import auth_settings_from

    # Hundreds of requests from one address: the matrix is about authorization, not limits.
    return auth_settings_from(settings, rate_limit_enabled=False)


async def test_authorization_matrix(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    app, client = auth_app, auth_client
    admin = await make_user(app, "admin")
    owner = await make_user(app, "researcher")
    other = await make_user(app, "researcher")
    viewer = await make_user(app, "viewer")
    bad = await _bad_credentials(app, clock)
    failures: list[str] = []
    checked_ownership: set[str] = set()

    for route, method in api_routes(app):
        label = f"{method} {route.path}"
        # Fresh tokens and a fresh experiment per route: some routes log out or delete.
        tokens = {
            name: (await tokens_for(app, u))[0]
            for name, u in (("admin", admin), ("owner", owner), ("other", other), ("viewer", viewer))
        }
        exp = await client.post(
            "/experiments", json={"name": f"exp-{uuid.uuid4().hex[:8]}"}, headers=bearer(tokens["owner"])
        )
        assert exp.status_code == 201, exp.text
        exp_id, exp_name = exp.json()["id"], exp.json()["name"]
        run = await client.post(f"/experiments/{exp_id}/runs", json={}, headers=bearer(tokens["owner"]))
        assert run.status_code == 201, run.text
        url = fill_path(route.path, {"experiment_id": exp_id, "run_id": run.json()["id"]})
        has_body = method in {"POST", "PUT", "PATCH"}

        async def call(
            headers: dict[str, str], *, url: str = url, method: str = method, has_body: bool = has_body
        ) -> httpx.Response:
            return await client.request(method, url, headers=headers, json={} if has_body else None)

        public = is_public(app, route, method)
        perms = declared_permissions(route.dependant)
        anonymous = await call({})
        if public:
            if anonymous.status_code == 401:
                failures.append(f"{label}: public route answered 401 to an anonymous call")
            continue
        if anonymous.status_code != 401 or anonymous.json().get("error") != "unauthorized":
            failures.append(f"{label}: anonymous got {anonymous.status_code}")
        elif anonymous.headers.get("www-authenticate") != "Bearer":
            failures.append(f"{label}: 401 without WWW-Authenticate: Bearer")
        for name, headers in bad.items():
            if name.startswith("_"):
                continue
            r = await call(headers)
            if r.status_code != 401 or r.json()["message"] != "Invalid or expired authentication token":
                failures.append(f"{label}: {name} got {r.status_code}")

        scoped = "{experiment_id}" in route.path
        results: dict[str, httpx.Response] = {}
        order = ("viewer", "other", "owner", "admin")  # owner before admin: DELETE by the owner is final
        for who in order:
            role = {"admin": "admin", "owner": "researcher", "other": "researcher", "viewer": "viewer"}[who]
            r = await call(bearer(tokens[who]))
            results[who] = r
            may = role_allows(role, perms) and (not scoped or who in ("owner", "admin"))
            if may:
                if r.status_code in (401, 403):
                    failures.append(f"{label}: {who} ({role}) refused with {r.status_code}: {r.text[:200]}")
                continue
            if exp_name in r.text:
                failures.append(f"{label}: {who} was refused but the response carries the experiment")
            if not role_allows(role, perms):
                body = r.json() if r.status_code == 403 else {}
                if r.status_code != 403 or body.get("required_permission") not in perms:
                    failures.append(f"{label}: {who} ({role}) lacks {perms} but got {r.status_code}")
                elif set(body) - ENVELOPE_KEYS:
                    failures.append(f"{label}: 403 body carries data: {sorted(body)}")
        if scoped:
            owner_status = results["owner"].status_code
            for who in ("other", "viewer"):
                r = results[who]
                if r.status_code == 403:
                    if not r.json().get("required_permission"):
                        failures.append(f"{label}: {who} 403 without required_permission")
                    checked_ownership.add(route.path)
                elif not (owner_status == 400 and r.status_code == 400):
                    # Only a request invalid for the owner too may fail validation before authorization.
                    failures.append(f"{label}: non-owner {who} got {r.status_code} (owner {owner_status})")

    assert failures == [], "\n".join(failures)
    # Ownership was really exercised on the experiment-scoped reads.
    assert {
        "/experiments/{experiment_id}",
        "/experiments/{experiment_id}/runs/{run_id}",
        "/experiments/{experiment_id}/metrics",
    } <= checked_ownership


async def test_expired_api_key_is_refused(
    auth_app: FastAPI, auth_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    user = await make_user(auth_app, "researcher")
    async with auth_app.state.lab.sessionmaker() as session:
        from datetime import timedelta

        _, key = await ApiKeyService(session, clock.now()).create(
            principal_for(user), expires_in=timedelta(hours=1)
        )
        await session.commit()
    r = await auth_client.get("/experiments", headers={"X-API-Key": key})
    assert r.status_code == 200
    clock.advance(3599)
    assert (await auth_client.get("/experiments", headers={"X-API-Key": key})).status_code == 200
    clock.advance(1)
    r = await auth_client.get("/experiments", headers={"X-API-Key": key})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
