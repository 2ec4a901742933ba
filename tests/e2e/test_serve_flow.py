"""End to end: `llm-lab serve` as a process, the seed's experiment flow over plain HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.api.seed_payloads import EVAL_METRICS, EXPERIMENT
from tests.livesrv import LiveServer, live_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("e2e") / "data", console_script=True) as server:
        yield server


@pytest.fixture
def http(srv: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.base_url, timeout=10) as client:
        yield client


def test_seed_experiment_flow(http: httpx.Client, srv: LiveServer) -> None:
    assert http.get("/health").text == "OK"
    ready = http.get("/health/ready").json()
    assert ready["status"] == "healthy" and ready["components"]["database"] == "healthy"

    # a dataset with content, as in the seed's datasets section (create, presigned upload, PUT)
    ds = http.post("/datasets", json={"name": "Multi-Step Reasoning Benchmark", "format": "jsonl"}).json()
    signed = http.post(
        f"/datasets/{ds['id']}/upload",
        json={"filename": "reasoning_benchmark_v1.jsonl", "content_type": "application/jsonl"},
    ).json()
    assert set(signed) >= {"upload_url", "expires_at"}
    put = http.put(
        signed["upload_url"],
        content=b'{"id": "1", "question": "q", "answer": "a"}\n',
        headers={"Content-Type": "application/jsonl"},
    )
    assert put.status_code < 300

    # create (201, the seed's response fields). The run must stay *tracked* (the client completes
    # it), so the config names the dataset but no models; the engine would otherwise execute it.
    payload = {**EXPERIMENT, "config": {**EXPERIMENT["config"], "dataset_ids": [ds["id"]]}}
    payload["config"].pop("model_ids")
    created = http.post("/experiments", json=payload)
    assert created.status_code == 201 and created.headers["x-request-id"]
    exp = created.json()
    assert exp["config"]["dataset_ids"] == [ds["id"]]
    for key in ("name", "description", "hypothesis", "owner_id", "collaborators", "tags"):
        assert exp[key] == EXPERIMENT[key]
    assert exp["status"] == "draft" and exp["archived_at"] is None and exp["metadata"] == {}
    assert exp["config"]["parameters"] == {"temperature": 0.7, "max_tokens": 2048, "top_p": 0.95}
    assert exp["config"]["num_samples"] == 1000 and exp["config"]["random_seed"] == 42
    assert exp["created_at"] and exp["updated_at"]
    eid = exp["id"]

    other = http.post("/experiments", json={"name": f"other-{uuid.uuid4().hex[:6]}", "tags": ["x"]}).json()

    # list with pagination and filters
    page = http.get("/experiments", params={"limit": 20, "offset": 0}).json()
    assert page["pagination"] == {"total": 2, "limit": 20, "offset": 0, "has_more": False}
    assert page["links"]["self"] == "/experiments?limit=20&offset=0"
    assert {e["id"] for e in page["data"]} == {eid, other["id"]}
    assert [
        e["id"] for e in http.get("/experiments", params={"tags": "benchmarking,reasoning"}).json()["data"]
    ] == [eid]
    by_owner = http.get("/experiments", params={"owner_id": EXPERIMENT["owner_id"]}).json()["data"]
    assert [e["id"] for e in by_owner] == [eid]
    assert http.get("/experiments", params={"status": "running"}).json()["data"] == []
    first = http.get("/experiments", params={"limit": 1}).json()
    assert first["page_info"]["has_next_page"] is True
    second = http.get("/experiments", params={"limit": 1, "after": first["page_info"]["end_cursor"]}).json()
    assert {first["data"][0]["id"], second["data"][0]["id"]} == {eid, other["id"]}

    # get, update
    assert http.get(f"/experiments/{eid}").json()["name"] == EXPERIMENT["name"]
    upd = http.put(
        f"/experiments/{eid}",
        json={
            "description": "Updated description with more details",
            "tags": ["comparison", "reasoning", "benchmarking", "production"],
        },
    ).json()
    assert upd["description"] == "Updated description with more details" and "production" in upd["tags"]
    assert upd["hypothesis"] == EXPERIMENT["hypothesis"]

    # start
    started = http.post(f"/experiments/{eid}/start").json()
    assert set(started) == {"id", "status", "started_at"} and started["status"] == "running"
    assert [e["id"] for e in http.get("/experiments", params={"status": "running"}).json()["data"]] == [eid]

    # run with overrides
    run = http.post(
        f"/experiments/{eid}/runs", json={"config_overrides": {"parameters": {"temperature": 0.5}}}
    )
    assert run.status_code == 201
    r1 = run.json()
    assert r1["experiment_id"] == eid and r1["status"] == "pending"
    assert r1["config"]["parameters"] == {"temperature": 0.5, "max_tokens": 2048, "top_p": 0.95}
    assert r1["started_at"] and r1["completed_at"] is None and r1["error"] is None

    # evaluation + complete
    ev = http.post(
        "/evaluations",
        json={
            "experiment_id": eid,
            "run_id": r1["id"],
            "metrics": EVAL_METRICS,
            "metadata": {"batch_size": 32},
        },
    )
    assert ev.status_code == 201 and ev.json()["metrics"] == EVAL_METRICS
    done = http.post(f"/experiments/{eid}/runs/{r1['id']}/complete").json()
    assert done["status"] == "completed" and done["completed_at"]

    # a second run fails
    r2 = http.post(f"/experiments/{eid}/runs", json={}).json()
    failed = http.post(
        f"/experiments/{eid}/runs/{r2['id']}/fail",
        json={"error": "Out of memory error during model inference"},
    ).json()
    assert failed["status"] == "failed" and failed["error"] == "Out of memory error during model inference"
    again = http.post(f"/experiments/{eid}/runs/{r2['id']}/complete")
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    # metrics
    metrics = http.get(f"/experiments/{eid}/metrics").json()
    assert metrics["experiment_id"] == eid
    assert metrics["aggregated_metrics"]["accuracy"] == {
        "mean": 0.847,
        "std": None,
        "min": 0.847,
        "max": 0.847,
        "count": 1,
    }
    assert metrics["runs"] == [{"run_id": r1["id"], "metrics": EVAL_METRICS}]

    # errors keep the envelope
    missing = http.get(f"/experiments/{uuid.uuid4()}").json()
    assert missing["error"] == "not_found" and missing["request_id"]

    # delete
    assert http.delete(f"/experiments/{eid}").status_code == 204
    assert http.get(f"/experiments/{eid}").status_code == 404
    assert Path(srv.data_dir / "lab.db").exists()
