"""The seed's experiment and run calls, verbatim, plus the rules around them."""

from __future__ import annotations

import copy
import uuid

import httpx

from tests.integration.api.seed_payloads import EXPERIMENT
from tests.integration.datasets.helpers import create_dataset, rows_jsonl, upload


async def create(client: httpx.AsyncClient, **changes: object) -> dict[str, object]:
    body = copy.deepcopy(EXPERIMENT)
    body.update(changes)
    r = await client.post("/experiments", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def startable(client: httpx.AsyncClient, **changes: object) -> dict[str, object]:
    """The seed's experiment, naming a real dataset with uploaded content so that it can start."""
    ds = await create_dataset(client, name=f"ds-{uuid.uuid4().hex[:8]}")
    assert (await upload(client, ds["id"], rows_jsonl(3))).status_code == 200
    config = {**copy.deepcopy(EXPERIMENT["config"]), "dataset_ids": [ds["id"]]}
    return await create(client, config=config, **changes)


async def test_create_returns_seed_shape(client: httpx.AsyncClient) -> None:
    data = await create(client)
    for key in ("name", "description", "hypothesis", "owner_id", "collaborators", "tags", "config"):
        assert data[key] == EXPERIMENT[key], key
    assert data["status"] == "draft"
    assert data["archived_at"] is None and data["metadata"] == {}
    uuid.UUID(data["id"])
    assert data["created_at"].endswith("Z")


async def test_duplicate_name_for_owner_is_409_with_existing_id(client: httpx.AsyncClient) -> None:
    first = await create(client)
    r = await client.post("/experiments", json=EXPERIMENT)
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "conflict"
    assert body["existing_id"] == first["id"]
    assert body["message"] == "An experiment with this name already exists"
    assert body["request_id"] == r.headers["x-request-id"]


async def test_same_name_other_owner_is_allowed(client: httpx.AsyncClient) -> None:
    await create(client)
    other = str(uuid.uuid4())
    data = await create(client, owner_id=other)
    assert data["owner_id"] == other


async def test_get_update_delete(client: httpx.AsyncClient) -> None:
    exp = await create(client)
    r = await client.get(f"/experiments/{exp['id']}")
    assert r.status_code == 200 and r.json()["name"] == EXPERIMENT["name"]
    r = await client.put(
        f"/experiments/{exp['id']}",
        json={
            "description": "Updated description with more details",
            "tags": ["comparison", "reasoning", "benchmarking", "production"],
        },
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["description"] == "Updated description with more details"
    assert updated["tags"][-1] == "production"
    assert updated["hypothesis"] == EXPERIMENT["hypothesis"]  # untouched: partial update
    assert updated["config"] == EXPERIMENT["config"]
    r = await client.delete(f"/experiments/{exp['id']}")
    assert r.status_code == 204
    r = await client.get(f"/experiments/{exp['id']}")
    assert r.status_code == 404
    assert r.json()["message"] == f"Experiment with ID {exp['id']} not found"


async def test_filters_status_owner_tags(client: httpx.AsyncClient) -> None:
    a = await create(client, name="a", tags=["reasoning", "benchmarking"])
    b = await startable(client, name="b", tags=["reasoning"])
    c = await create(client, name="c", tags=["benchmarking"], owner_id=str(uuid.uuid4()))
    await client.post(f"/experiments/{b['id']}/start")

    r = await client.get("/experiments", params={"tags": "benchmarking,reasoning"})
    assert [e["id"] for e in r.json()["data"]] == [a["id"]]
    r = await client.get("/experiments", params={"status": "running"})
    assert [e["id"] for e in r.json()["data"]] == [b["id"]]
    r = await client.get("/experiments", params={"owner_id": c["owner_id"]})
    assert [e["id"] for e in r.json()["data"]] == [c["id"]]
    r = await client.get("/experiments", params={"status": "bogus"})
    assert r.status_code == 400 and "status" in r.json()["details"]["fields"]


async def test_start_and_status_transitions(client: httpx.AsyncClient) -> None:
    exp = await startable(client)
    r = await client.post(f"/experiments/{exp['id']}/start")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == exp["id"] and body["status"] == "running" and body["started_at"]
    # The start pins the content it will use (no version yet: the current content's sha256).
    (dataset_id,) = exp["config"]["dataset_ids"]  # type: ignore[index]
    pinned = (await client.get(f"/experiments/{exp['id']}")).json()["config"]["dataset_versions"]
    assert list(pinned) == [dataset_id] and pinned[dataset_id].startswith("current@sha256:")
    # running -> running is illegal: 409 names the allowed targets
    r = await client.post(f"/experiments/{exp['id']}/start")
    assert r.status_code == 409
    assert r.json()["allowed_transitions"] == ["archived", "completed", "failed", "paused"]
    r = await client.put(f"/experiments/{exp['id']}", json={"status": "paused"})
    assert r.status_code == 200 and r.json()["status"] == "paused"
    r = await client.put(f"/experiments/{exp['id']}", json={"status": "draft"})
    assert r.status_code == 409
    r = await client.put(f"/experiments/{exp['id']}", json={"status": "archived"})
    assert r.status_code == 200 and r.json()["archived_at"] is not None


async def test_start_without_datasets_is_422(client: httpx.AsyncClient) -> None:
    exp = await create(client, config={"parameters": {"temperature": 0.2}})
    r = await client.post(f"/experiments/{exp['id']}/start")
    assert r.status_code == 422
    assert r.json() == {
        "error": "unprocessable_entity",
        "message": "Cannot start experiment: no datasets configured",
        "request_id": r.headers["x-request-id"],
    }


async def test_start_with_fake_dataset_id_is_422(client: httpx.AsyncClient) -> None:
    exp = await create(client)  # the seed's dataset id names no dataset here
    r = await client.post(f"/experiments/{exp['id']}/start")
    assert r.status_code == 422
    assert r.json()["dataset_id"] == EXPERIMENT["config"]["dataset_ids"][0]
    assert (await client.get(f"/experiments/{exp['id']}")).json()["status"] == "draft"


async def test_runs_merge_overrides_and_finish(client: httpx.AsyncClient) -> None:
    exp = await startable(client)
    await client.post(f"/experiments/{exp['id']}/start")
    r = await client.post(
        f"/experiments/{exp['id']}/runs", json={"config_overrides": {"parameters": {"temperature": 0.5}}}
    )
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] == "pending" and run["experiment_id"] == exp["id"]
    assert run["config"]["parameters"] == {"temperature": 0.5, "max_tokens": 2048, "top_p": 0.95}
    assert run["config"]["dataset_ids"] == exp["config"]["dataset_ids"]  # type: ignore[index]
    assert run["started_at"] is not None and run["completed_at"] is None and run["error"] is None

    r = await client.post(f"/experiments/{exp['id']}/runs/{run['id']}/complete")
    assert r.status_code == 200 and r.json()["status"] == "completed" and r.json()["completed_at"]
    r = await client.post(f"/experiments/{exp['id']}/runs/{run['id']}/fail", json={"error": "late"})
    assert r.status_code == 409 and r.json()["allowed_transitions"] == []

    r2 = (await client.post(f"/experiments/{exp['id']}/runs", json={})).json()
    r = await client.post(
        f"/experiments/{exp['id']}/runs/{r2['id']}/fail",
        json={"error": "Out of memory error during model inference"},
    )
    assert r.status_code == 200
    assert (
        r.json()["status"] == "failed" and r.json()["error"] == "Out of memory error during model inference"
    )

    listed = (await client.get(f"/experiments/{exp['id']}/runs")).json()
    assert {x["id"] for x in listed["data"]} == {run["id"], r2["id"]}
    r = await client.get(f"/experiments/{exp['id']}/runs/{run['id']}")
    assert r.json()["status"] == "completed"


async def test_run_override_validated(client: httpx.AsyncClient) -> None:
    exp = await create(client)
    r = await client.post(
        f"/experiments/{exp['id']}/runs", json={"config_overrides": {"parameters": {"top_p": 3}}}
    )
    assert r.status_code == 400
    assert r.json()["details"]["fields"] == {
        "config_overrides.parameters.top_p": "top_p must be between 0 and 1"
    }


async def test_run_of_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post(f"/experiments/{uuid.uuid4()}/runs", json={})
    assert r.status_code == 404 and r.json()["error"] == "not_found"


async def test_run_on_archived_experiment_is_409(client: httpx.AsyncClient) -> None:
    exp = await create(client)
    await client.put(f"/experiments/{exp['id']}", json={"status": "archived"})
    r = await client.post(f"/experiments/{exp['id']}/runs", json={})
    assert r.status_code == 409
