"""Seed payloads and the upload dance (request URL → PUT bytes → [complete]) for both backends."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from llm_research_lab.settings import Settings

# The seed's "Create a Dataset" body, verbatim.
SEED_DATASET: dict[str, Any] = {
    "name": "Multi-Step Reasoning Benchmark",
    "description": "A dataset of 5000 multi-step reasoning problems",
    "format": "jsonl",
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "question": {"type": "string"},
            "steps": {"type": "array", "items": {"type": "string"}},
            "answer": {"type": "string"},
            "difficulty": {"type": "string", "enum": ["easy", "medium", "hard"]},
        },
        "required": ["id", "question", "answer"],
    },
    "tags": ["reasoning", "benchmark", "multi-step"],
    "metadata": {"source": "internal", "version": "1.0.0", "license": "proprietary"},
}
SEED_UPLOAD = {"filename": "reasoning_benchmark_v1.jsonl", "content_type": "application/jsonl"}


def rows_jsonl(n: int, start: int = 0) -> bytes:
    out = []
    for i in range(start, start + n):
        row = {
            "id": f"q{i}",
            "question": f"What is {i} + {i}?",
            "steps": [f"add {i} and {i}"],
            "answer": str(2 * i),
            "difficulty": ["easy", "medium", "hard"][i % 3],
        }
        out.append(json.dumps(row))
    return ("\n".join(out) + "\n").encode()


async def create_dataset(client: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_DATASET)
    body.update(changes)
    r = await client.post("/datasets", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def put_bytes(
    client: httpx.AsyncClient, grant: dict[str, Any], data: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    """PUT to a presigned URL: the local backend's URL is served by the app under test (reached
    through its ASGI client), an S3 URL by SeaweedFS over real HTTP."""
    url = grant["upload_url"]
    sent = headers if headers is not None else grant["headers"]
    parts = urlsplit(url)
    if parts.path.startswith("/storage/objects/"):
        return await client.put(f"{parts.path}?{parts.query}", content=data, headers=sent)
    async with httpx.AsyncClient() as direct:
        return await direct.put(url, content=data, headers=sent)


async def upload(
    client: httpx.AsyncClient,
    dataset_id: str,
    data: bytes,
    *,
    filename: str = SEED_UPLOAD["filename"],
    content_type: str = SEED_UPLOAD["content_type"],
) -> httpx.Response:
    """The whole flow; returns the response carrying the outcome (the PUT's on the local backend,
    `upload/complete`'s on S3, where the bucket's PUT response knows nothing of validation)."""
    r = await client.post(
        f"/datasets/{dataset_id}/upload", json={"filename": filename, "content_type": content_type}
    )
    assert r.status_code == 200, r.text
    grant = r.json()
    put = await put_bytes(client, grant, data)
    if "/storage/objects/" in grant["upload_url"]:
        return put
    assert put.status_code == 200, put.text
    return await client.post(
        f"/datasets/{dataset_id}/upload/complete", json={"upload_id": grant["upload_id"]}
    )


async def download(client: httpx.AsyncClient, dataset_id: str, version: str | None = None) -> bytes:
    params = {"version": version} if version else {}
    r = await client.get(f"/datasets/{dataset_id}/download", params=params)
    assert r.status_code == 200, r.text
    url = r.json()["download_url"]
    parts = urlsplit(url)
    if parts.path.startswith("/storage/objects/"):
        got = await client.get(f"{parts.path}?{parts.query}")
    else:
        async with httpx.AsyncClient() as direct:
            got = await direct.get(url)
    assert got.status_code == 200, got.text
    return got.content


def stored_keys(settings: Settings, dataset_id: str) -> list[str]:
    """Every object key the store holds for this dataset (checks for staged leftovers)."""
    prefix = f"datasets/{dataset_id}/"
    if not settings.storage_url:
        root = Path(settings.data_dir) / "objects"
        return sorted(str(p.relative_to(root)) for p in (root / prefix).rglob("*") if p.is_file())
    import boto3
    from botocore.config import Config

    parts = urlsplit(settings.storage_url)
    base = parts.path.strip("/")
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=settings.storage_endpoint_url,
        aws_access_key_id=settings.storage_access_key,
        aws_secret_access_key=settings.storage_secret_key,
        region_name=settings.storage_region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    try:
        listed = s3.list_objects_v2(Bucket=parts.netloc, Prefix=f"{base}/{prefix}")
        return sorted(o["Key"][len(base) + 1 :] for o in listed.get("Contents", []))
    finally:
        s3.close()
