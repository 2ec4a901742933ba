"""The error envelope everywhere: validation, malformed JSON, unknown routes, wrong methods, size."""

from __future__ import annotations

import uuid

import httpx

from tests.integration.api.seed_payloads import EXPERIMENT


def assert_envelope(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def test_seed_400_shape_with_dotted_fields(client: httpx.AsyncClient) -> None:
    bad = {
        "name": "",
        "config": {"parameters": {"temperature": 5, "top_p": -1, "max_tokens": 0}, "num_samples": 0},
    }
    body = assert_envelope(await client.post("/experiments", json=bad), 400, "validation_error")
    assert body["message"] == "Invalid request body"
    assert body["details"] == {
        "fields": {
            "name": "Name must be between 1 and 255 characters",
            "config.parameters.temperature": "Temperature must be between 0 and 2",
            "config.parameters.top_p": "top_p must be between 0 and 1",
            "config.parameters.max_tokens": "max_tokens must be greater than 0",
            "config.num_samples": "num_samples must be greater than 0",
        }
    }


async def test_name_too_long_and_bad_uuids(client: httpx.AsyncClient) -> None:
    body = assert_envelope(
        await client.post(
            "/experiments", json={"name": "x" * 256, "owner_id": "nope", "config": {"model_ids": ["zz"]}}
        ),
        400,
        "validation_error",
    )
    fields = body["details"]["fields"]  # type: ignore[index]
    assert fields["name"] == "Name must be between 1 and 255 characters"
    assert "owner_id" in fields and "config.model_ids.0" in fields


async def test_malformed_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/experiments", content=b'{"name": ', headers={"content-type": "application/json"})
    body = assert_envelope(r, 400, "validation_error")
    assert "Malformed JSON" in str(body["message"])


async def test_unknown_field_rejected(client: httpx.AsyncClient) -> None:
    body = assert_envelope(
        await client.post("/experiments", json={**EXPERIMENT, "colour": "red"}), 400, "validation_error"
    )
    assert "colour" in body["details"]["fields"]  # type: ignore[index,operator]


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/no/such/route"), 404, "not_found")
    assert_envelope(await client.patch("/health"), 405, "method_not_allowed")


async def test_path_uuid_validation(client: httpx.AsyncClient) -> None:
    body = assert_envelope(await client.get("/experiments/not-a-uuid"), 400, "validation_error")
    assert "experiment_id" in body["details"]["fields"]  # type: ignore[index,operator]


async def test_oversized_body_is_413(client: httpx.AsyncClient, settings: object) -> None:
    big = "x" * (settings.max_body_bytes + 10)  # type: ignore[attr-defined]
    r = await client.post(
        "/experiments",
        content=('{"name": "' + big + '"}').encode(),
        headers={"content-type": "application/json"},
    )
    assert_envelope(r, 413, "payload_too_large")


async def test_request_id_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("/health", headers={"X-Request-ID": "my-trace-123"})
    assert r.headers["x-request-id"] == "my-trace-123"
    r = await client.get(f"/experiments/{uuid.uuid4()}", headers={"X-Request-ID": "trace-404"})
    assert r.json()["request_id"] == "trace-404"
    r = await client.get("/health", headers={"X-Request-ID": "bad id with spaces\n"})
    assert r.headers["x-request-id"].startswith("req_")


async def test_bad_pagination_params(client: httpx.AsyncClient) -> None:
    for params in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"after": "!!notacursor"}):
        body = assert_envelope(await client.get("/experiments", params=params), 400, "validation_error")
        assert body["details"]["fields"]  # type: ignore[index]
    assert_envelope(
        await client.get("/experiments", params={"after": "a", "before": "b"}), 400, "validation_error"
    )
