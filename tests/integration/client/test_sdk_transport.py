"""Retries (429/503 + Retry-After), token login/refresh and error envelopes over real loopback HTTP."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from llm_research_lab import AsyncClient, Client
from llm_research_lab.errors import (
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from tests.integration.client.scripted_server import Reply, Script, Seen, scripted_server

OK = Reply(200, {"rendered": "hi"})
RATE = {"error": "rate_limit_exceeded", "message": "slow down", "retry_after": 1, "request_id": "req_rl"}
BUSY = {"error": "service_unavailable", "message": "busy", "request_id": "req_busy"}
PROMPT = "/prompts/00000000-0000-0000-0000-000000000001/render"
PID = "00000000-0000-0000-0000-000000000001"


def test_429_is_retried_after_retry_after_then_succeeds() -> None:
    script = Script({PROMPT: [Reply(429, RATE, {"Retry-After": "0.3"}), OK]})
    with scripted_server(script) as url, Client(base_url=url, api_key="k", max_backoff=5) as client:
        assert client.prompts.render(PID, {"q": 1}) == "hi"
    first, second = script.hits(PROMPT)
    assert second.at - first.at >= 0.28  # honoured Retry-After
    assert second.body == first.body and second.headers["x-api-key"] == "k"


def test_503_is_retried_with_backoff_and_gives_up_after_max_retries() -> None:
    script = Script({PROMPT: [Reply(503, BUSY)]})
    with (
        scripted_server(script) as url,
        Client(base_url=url, max_retries=2, max_backoff=0.05) as client,
        pytest.raises(ServiceUnavailableError) as info,
    ):
        client.prompts.render(PID)
    assert len(script.hits(PROMPT)) == 3  # first try + 2 retries
    assert info.value.request_id == "req_busy" and info.value.http_status == 503


def test_retry_after_longer_than_max_backoff_raises_at_once() -> None:
    script = Script({PROMPT: [Reply(429, RATE | {"retry_after": 60}, {"Retry-After": "60"}), OK]})
    with (
        scripted_server(script) as url,
        Client(base_url=url, max_backoff=2) as client,
        pytest.raises(RateLimitError) as info,
    ):
        client.prompts.render(PID)
    assert info.value.retry_after == 60 and len(script.hits(PROMPT)) == 1


def test_no_retries_when_max_retries_is_zero() -> None:
    script = Script({PROMPT: [Reply(429, RATE, {"Retry-After": "0"}), OK]})
    with (
        scripted_server(script) as url,
        Client(base_url=url, max_retries=0) as client,
        pytest.raises(RateLimitError),
    ):
        client.prompts.render(PID)
    assert len(script.hits(PROMPT)) == 1


async def test_async_client_retries_too() -> None:
    script = Script(
        {PROMPT: [Reply(503, BUSY, {"Retry-After": "0.2"}), Reply(429, RATE, {"Retry-After": "0"}), OK]}
    )
    with scripted_server(script) as url:
        async with AsyncClient(base_url=url, max_backoff=1) as client:
            assert await client.prompts.render(PID) == "hi"
    hits = script.hits(PROMPT)
    assert len(hits) == 3 and hits[1].at - hits[0].at >= 0.18


def test_permission_denied_keeps_required_permission() -> None:
    body = {
        "error": "forbidden",
        "message": "nope",
        "required_permission": "prompts:read",
        "request_id": "r1",
    }
    with (
        scripted_server(Script({PROMPT: [Reply(403, body)]})) as url,
        Client(base_url=url) as client,
        pytest.raises(PermissionDeniedError) as info,
    ):
        client.prompts.render(PID)
    assert info.value.extra["required_permission"] == "prompts:read" and info.value.request_id == "r1"


def _auth_server() -> Script:
    """/auth/token gives token-1 (expires_in 3600); the API accepts only token-2 after the first call,
    as if token-1 expired; /auth/refresh rotates to token-2."""
    state = {"api_calls": 0}

    def handle(seen: Seen) -> Reply:
        if seen.path == "/auth/token":
            return Reply(200, {"access_token": "token-1", "refresh_token": "refresh-1", "expires_in": 3600})
        if seen.path == "/auth/refresh":
            if b"refresh-1" not in seen.body:
                return Reply(401, {"error": "unauthorized", "message": "bad refresh"})
            return Reply(200, {"access_token": "token-2", "refresh_token": "refresh-2", "expires_in": 3600})
        state["api_calls"] += 1
        auth = seen.headers.get("authorization")
        good = "Bearer token-1" if state["api_calls"] == 1 else "Bearer token-2"
        if auth != good:
            return Reply(401, {"error": "unauthorized", "message": "Invalid or expired authentication token"})
        return OK

    return Script(handler=handle)


def test_password_login_and_transparent_refresh_on_401() -> None:
    script = _auth_server()
    with scripted_server(script) as url, Client(base_url=url, username="u@x.io", password="pw") as client:
        assert client.prompts.render(PID) == "hi"  # logs in first
        assert client.prompts.render(PID) == "hi"  # 401 with token-1 → refresh → retried with token-2
    paths = [s.path for s in script.seen]
    assert paths == ["/auth/token", PROMPT, PROMPT, "/auth/refresh", PROMPT]
    assert b'"username": "u@x.io"' in script.seen[0].body or b'"username":"u@x.io"' in script.seen[0].body


def test_api_key_401_is_not_retried() -> None:
    body = {"error": "unauthorized", "message": "Invalid API key"}
    with (
        scripted_server(Script({PROMPT: [Reply(401, body)]})) as url,
        Client(base_url=url, api_key="bad") as c,
        pytest.raises(UnauthorizedError, match="Invalid API key"),
    ):
        c.prompts.render(PID)


def test_env_defaults_are_read_in_the_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    script = Script({PROMPT: [OK]})
    with scripted_server(script) as url:
        monkeypatch.setenv("LAB_BASE_URL", url)
        monkeypatch.setenv("LAB_API_KEY", "from-env")
        with Client() as client:
            monkeypatch.setenv("LAB_API_KEY", "changed-later")
            assert client.prompts.render(PID) == "hi"
    assert script.seen[0].headers["x-api-key"] == "from-env"


def test_non_json_error_body_maps_by_status() -> None:
    def handle(seen: Seen) -> Reply:
        return Reply(503, None)

    with (
        scripted_server(Script(handler=handle)) as url,
        Client(base_url=url, max_retries=0) as client,
        pytest.raises(ServiceUnavailableError),
    ):
        client.prompts.render(PID)


def test_s3_style_upload_streams_then_completes(tmp_path: Path) -> None:
    """An object store that answers the PUT without the dataset (S3): the SDK calls /upload/complete."""
    payload = b'{"q": 1}\n' * 50_000
    upload_id = "7a0c3f3e-0000-4000-8000-000000000001"
    dataset = {
        "id": "7a0c3f3e-0000-4000-8000-0000000000d1",
        "name": "d",
        "format": "jsonl",
        "tags": [],
        "metadata": {},
        "size_bytes": len(payload),
        "row_count": 50_000,
        "created_at": "2030-01-01T00:00:00Z",
        "updated_at": "2030-01-01T00:00:00Z",
    }

    def handle(seen: Seen) -> Reply:
        if seen.path == "/datasets/d1/upload":
            return Reply(
                200,
                {
                    "upload_url": "/bucket/put?sig=abc",
                    "expires_at": "2030-01-01T00:00:00Z",
                    "upload_id": upload_id,
                    "max_bytes": 10**9,
                    "headers": {"x-amz-acl": "private"},
                },
            )
        if seen.path.startswith("/bucket/put"):
            return Reply(200, None)
        if seen.path == "/datasets/d1/upload/complete":
            return Reply(200, dataset)
        return Reply(404, {"error": "not_found", "message": "x"})

    script = Script(handler=handle)
    source = tmp_path / "rows.jsonl"
    source.write_bytes(payload)
    with scripted_server(script) as url, Client(base_url=url, api_key="secret") as client:
        result = client.datasets.upload("d1", source)
        with io.BytesIO(payload) as fh:
            client.datasets.upload("d1", fh, filename="x.jsonl")
    puts = [s for s in script.seen if s.method == "PUT"]
    assert [p.body == payload for p in puts] == [True, True]
    assert all("x-api-key" not in p.headers and p.headers["x-amz-acl"] == "private" for p in puts)
    assert puts[0].headers["content-type"] == "application/jsonl"
    completes = script.hits("/datasets/d1/upload/complete")
    assert len(completes) == 2 and upload_id.encode() in completes[0].body
    assert completes[0].headers["x-api-key"] == "secret"
    assert result.row_count == 50_000
