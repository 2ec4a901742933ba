"""Experiments pin the dataset versions they start with; the engine reads a version's file."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from llm_research_lab.server.datasets.service import DatasetService
from llm_research_lab.server.state import AppState
from tests.integration.api.seed_payloads import EXPERIMENT
from tests.integration.datasets.helpers import create_dataset, rows_jsonl, upload


async def _experiment(client: httpx.AsyncClient, dataset_ids: list[str]) -> dict[str, Any]:
    body = copy.deepcopy(EXPERIMENT)
    body["name"] = f"exp-{uuid.uuid4().hex[:6]}"
    body["config"]["dataset_ids"] = dataset_ids
    r = await client.post("/experiments", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_start_records_dataset_versions(client: httpx.AsyncClient) -> None:
    unversioned = await create_dataset(client, name="unversioned")
    sha = (await upload(client, unversioned["id"], rows_jsonl(3))).json()["sha256"]
    versioned = await create_dataset(client, name="versioned")
    assert (await upload(client, versioned["id"], rows_jsonl(2))).status_code == 200
    r = await client.post(f"/datasets/{versioned['id']}/versions", json={"version": "2.0.0"})
    assert r.status_code == 201

    exp = await _experiment(client, [unversioned["id"], versioned["id"]])
    r = await client.post(f"/experiments/{exp['id']}/start")
    assert r.status_code == 200, r.text
    config = (await client.get(f"/experiments/{exp['id']}")).json()["config"]
    assert config["dataset_versions"] == {
        unversioned["id"]: f"current@sha256:{sha}",
        versioned["id"]: "2.0.0",
    }
    assert config["dataset_ids"] == [unversioned["id"], versioned["id"]]


async def test_start_with_unknown_or_empty_dataset_is_422(client: httpx.AsyncClient) -> None:
    missing = str(uuid.uuid4())
    exp = await _experiment(client, [missing])
    r = await client.post(f"/experiments/{exp['id']}/start")
    assert r.status_code == 422
    assert r.json()["dataset_id"] == missing and missing in r.json()["message"]
    assert (await client.get(f"/experiments/{exp['id']}")).json()["status"] == "draft"

    empty = await create_dataset(client, name="empty")
    exp = await _experiment(client, [empty["id"]])
    r = await client.post(f"/experiments/{exp['id']}/start")
    assert r.status_code == 422 and "no uploaded content" in r.json()["message"]


async def test_resolve_version_path_for_the_engine(client: httpx.AsyncClient, app: FastAPI) -> None:
    ds = await create_dataset(client)
    v1 = rows_jsonl(3)
    assert (await upload(client, ds["id"], v1)).status_code == 200
    assert (await client.post(f"/datasets/{ds['id']}/versions", json={"version": "1.0.0"})).status_code == 201
    v2 = rows_jsonl(5, start=10)
    sha2 = (await upload(client, ds["id"], v2)).json()["sha256"]

    state: AppState = app.state.lab
    async with state.sessionmaker() as session:
        svc = DatasetService(session, state.extras["object_store"], state.settings)
        dataset_id = uuid.UUID(ds["id"])
        async with svc.resolve_version_path(dataset_id, "1.0.0") as path:
            assert path.read_bytes() == v1
        async with svc.resolve_version_path(dataset_id, f"current@sha256:{sha2}") as path:
            assert path.read_bytes() == v2
        ref = await svc.content_ref(dataset_id, "latest")
        assert ref.version == "1.0.0" and ref.row_count == 3 and ref.format.value == "jsonl"
