"""The seed's Datasets calls, verbatim, on both object stores; CRUD, versions, rows, downloads."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx

from llm_research_lab.settings import Settings
from tests.integration.datasets.helpers import (
    SEED_DATASET,
    SEED_UPLOAD,
    create_dataset,
    download,
    rows_jsonl,
    stored_keys,
    upload,
)

SEED_KEYS = {
    "id", "name", "description", "format", "schema", "tags", "metadata",
    "size_bytes", "row_count", "created_at", "updated_at",
}  # fmt: skip


async def test_seed_create_returns_seed_shape(client: httpx.AsyncClient) -> None:
    data = await create_dataset(client)
    assert set(data) >= SEED_KEYS
    for key in ("name", "description", "format", "schema", "tags", "metadata"):
        assert data[key] == SEED_DATASET[key], key
    assert data["size_bytes"] is None and data["row_count"] is None and data["sha256"] is None
    assert data["current_version"] is None
    assert data["created_at"].endswith("Z") and data["created_at"] == data["updated_at"]
    uuid.UUID(data["id"])


async def test_invalid_schema_is_400_naming_schema(client: httpx.AsyncClient) -> None:
    r = await client.post("/datasets", json={**SEED_DATASET, "schema": {"type": "bogus"}})
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "validation_error"
    assert "schema" in body["details"]["fields"] and "bogus" in body["details"]["fields"]["schema"]
    r = await client.post("/datasets", json={**SEED_DATASET, "format": "xml"})
    assert r.status_code == 400 and "format" in r.json()["details"]["fields"]


async def test_crud_filters_and_duplicates(client: httpx.AsyncClient) -> None:
    a = await create_dataset(client, name="a", tags=["reasoning", "math"])
    b = await create_dataset(client, name="b", tags=["reasoning"], format="csv")
    await create_dataset(client, name="c", tags=["math"], format="csv")
    r = await client.post("/datasets", json={**SEED_DATASET, "name": "a"})
    assert r.status_code == 409 and r.json()["existing_id"] == a["id"]

    r = await client.get("/datasets", params={"tags": "math,reasoning"})
    assert [d["id"] for d in r.json()["data"]] == [a["id"]]
    r = await client.get("/datasets", params={"tags": "reasoning", "format": "csv"})
    assert [d["id"] for d in r.json()["data"]] == [b["id"]]
    r = await client.get("/datasets", params={"limit": 2})
    page = r.json()
    assert page["pagination"] == {"total": 3, "limit": 2, "offset": 0, "has_more": True}
    assert page["links"]["next"] is not None and len(page["data"]) == 2

    r = await client.put(f"/datasets/{a['id']}", json={"description": "new", "tags": ["x"]})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["description"] == "new" and updated["tags"] == ["x"]
    assert updated["schema"] == SEED_DATASET["schema"] and updated["name"] == "a"  # partial
    r = await client.put(f"/datasets/{a['id']}", json={"schema": {"type": 7}})
    assert r.status_code == 400 and "schema" in r.json()["details"]["fields"]

    assert (await client.delete(f"/datasets/{a['id']}")).status_code == 204
    r = await client.get(f"/datasets/{a['id']}")
    assert r.status_code == 404 and r.json()["message"] == f"Dataset with ID {a['id']} not found"


async def test_seed_upload_download_and_rows(client: httpx.AsyncClient, settings: Settings) -> None:
    ds = await create_dataset(client)
    r = await client.post(f"/datasets/{ds['id']}/upload", json=SEED_UPLOAD)
    assert r.status_code == 200, r.text
    grant = r.json()
    assert grant["upload_url"].startswith("http") and grant["expires_at"].endswith("Z")
    assert grant["headers"] == {"Content-Type": "application/jsonl"}

    data = rows_jsonl(25)
    r = await upload(client, ds["id"], data)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["id"] == ds["id"]
    assert summary["row_count"] == 25 and summary["size_bytes"] == len(data)
    assert summary["sha256"] == hashlib.sha256(data).hexdigest()
    assert summary["filename"] == SEED_UPLOAD["filename"]

    got = (await client.get(f"/datasets/{ds['id']}")).json()
    assert got["row_count"] == 25 and got["sha256"] == summary["sha256"]
    assert await download(client, ds["id"]) == data

    r = await client.get(f"/datasets/{ds['id']}/rows", params={"limit": 10, "offset": 20})
    page = r.json()
    assert [row["id"] for row in page["data"]] == ["q20", "q21", "q22", "q23", "q24"]
    assert page["has_more"] is False and page["total"] == 25
    r = await client.get(f"/datasets/{ds['id']}/rows", params={"limit": 3})
    assert [row["id"] for row in r.json()["data"]] == ["q0", "q1", "q2"] and r.json()["has_more"]
    # Only the promoted content is stored: nothing staged is left behind.
    assert stored_keys(settings, ds["id"]) == [f"datasets/{ds['id']}/content/{summary['sha256']}.jsonl"]


async def test_complete_is_idempotent(client: httpx.AsyncClient) -> None:
    ds = await create_dataset(client)
    first = await upload(client, ds["id"], rows_jsonl(3))
    assert first.status_code == 200, first.text
    again = await client.post(f"/datasets/{ds['id']}/upload/complete", json={})
    assert again.status_code == 200 and again.json()["sha256"] == first.json()["sha256"]
    r = await client.post(f"/datasets/{uuid.uuid4()}/upload/complete")
    assert r.status_code == 404


async def test_versions_freeze_content(client: httpx.AsyncClient, settings: Settings) -> None:
    ds = await create_dataset(client)
    r = await client.post(f"/datasets/{ds['id']}/versions", json={"version": "1.0.0"})
    assert r.status_code == 422 and "no uploaded content" in r.json()["message"]

    v1_bytes = rows_jsonl(5)
    assert (await upload(client, ds["id"], v1_bytes)).status_code == 200
    r = await client.post(
        f"/datasets/{ds['id']}/versions",
        json={"version": "1.0.0", "description": "first", "changelog": "- initial"},
    )
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert v1["version"] == "1.0.0" and v1["row_count"] == 5
    assert v1["sha256"] == hashlib.sha256(v1_bytes).hexdigest() and v1["schema"] == SEED_DATASET["schema"]
    r = await client.post(f"/datasets/{ds['id']}/versions", json={"version": "1.0.0"})
    assert r.status_code == 409 and r.json()["existing_id"] == v1["id"]
    r = await client.post(f"/datasets/{ds['id']}/versions", json={"version": "1.0"})
    assert r.status_code == 400 and "version" in r.json()["details"]["fields"]
    assert (await client.get(f"/datasets/{ds['id']}")).json()["current_version"] == "1.0.0"

    # The seed's version call, verbatim, after new content.
    v2_bytes = rows_jsonl(8, start=100)
    assert (await upload(client, ds["id"], v2_bytes)).status_code == 200
    assert (await client.get(f"/datasets/{ds['id']}")).json()["current_version"] is None
    r = await client.post(
        f"/datasets/{ds['id']}/versions",
        json={
            "version": "1.1.0",
            "description": "Added 500 new hard difficulty problems",
            "changelog": (
                "- Added 500 new problems\n- Fixed 12 incorrect answers\n- Improved step explanations"
            ),
        },
    )
    assert r.status_code == 201, r.text
    r = await client.get(f"/datasets/{ds['id']}/versions")
    listed = r.json()
    assert [v["version"] for v in listed["data"]] == ["1.1.0", "1.0.0"]
    assert listed["pagination"]["total"] == 2
    got = (await client.get(f"/datasets/{ds['id']}")).json()
    assert got["current_version"] == "1.1.0" and got["latest_version"] == "1.1.0"

    # Versions stay readable, byte for byte, after the content moved on.
    assert await download(client, ds["id"], "1.0.0") == v1_bytes
    assert await download(client, ds["id"], "1.1.0") == v2_bytes
    r = await client.get(f"/datasets/{ds['id']}/rows", params={"version": "1.0.0"})
    assert [row["id"] for row in r.json()["data"]] == [f"q{i}" for i in range(5)]
    assert r.json()["version"] == "1.0.0"
    r = await client.get(f"/datasets/{ds['id']}/download", params={"version": "9.9.9"})
    assert r.status_code == 404
    keys = stored_keys(settings, ds["id"])
    assert f"datasets/{ds['id']}/versions/1.0.0/data.jsonl" in keys
    assert not any("/uploads/" in k for k in keys)

    assert (await client.delete(f"/datasets/{ds['id']}")).status_code == 204
    assert stored_keys(settings, ds["id"]) == []


async def test_download_without_content_is_404(client: httpx.AsyncClient) -> None:
    ds = await create_dataset(client)
    r = await client.get(f"/datasets/{ds['id']}/download")
    assert r.status_code == 404 and "no uploaded content" in r.json()["message"]


async def test_storage_health_component(client: httpx.AsyncClient) -> None:
    r = await client.get("/health/detailed")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["components"]["storage"]["status"] == "healthy"
