"""Eval Hub catalog and model routes, as the notebook calls them."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.fakes.openai_server import FakeServer
from tests.integration.hub.helpers import MODEL

GROQ = {
    "model_id": "groq-llama-3.1-70b",
    "model_name": "Llama 3.1 70B via Groq",
    "description": "Meta's Llama 3.1 70B model accessed through Groq API",
    "model_type": "openai-compatible",
    "base_url": "http://127.0.0.1:9/openai/v1",  # nothing listens: the probe fails, registration not
    "api_key_required": False,
    "model_path": "llama-3.1-70b-versatile",
    "capabilities": {"max_tokens": 8192, "supports_streaming": True, "context_window": 131072},
    "config": {"temperature": 0.7, "max_tokens": 2048, "timeout": 60, "retry_attempts": 3},
    "status": "active",
    "tags": ["groq", "llama", "openai-compatible", "fast"],
}


async def test_health_is_public_and_versioned(hub: httpx.AsyncClient) -> None:
    r = await hub.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy" and body["version"] and body["uptime_seconds"] >= 0


async def test_providers_benchmarks_collections(hub: httpx.AsyncClient) -> None:
    providers = (await hub.get("/api/v1/providers")).json()
    ids = [p["provider_id"] for p in providers["providers"]]
    assert providers["total_providers"] == len(ids) and "lm_evaluation_harness" in ids
    lm = next(p for p in providers["providers"] if p["provider_id"] == "lm_evaluation_harness")
    assert lm["benchmark_count"] > 100 and lm["provider_type"] == "builtin" and lm["benchmarks"] is None

    detail = (await hub.get("/api/v1/providers/lm_evaluation_harness")).json()
    assert (
        detail["provider_name"] == "LM Evaluation Harness"
        and len(detail["benchmarks"]) == lm["benchmark_count"]
    )
    r = await hub.get("/api/v1/providers/lm_eval_harness")
    assert r.status_code == 404 and "lm_evaluation_harness" in r.json()["detail"]["message"]

    bare = (await hub.get("/api/v1/providers/lm_evaluation_harness/benchmarks")).json()
    assert isinstance(bare, list) and len(bare) == lm["benchmark_count"]
    arc = next(b for b in bare if b["benchmark_id"] == "arc_easy")
    assert arc["category"] == "reasoning" and arc["metrics"] == ["acc", "acc_norm"] and arc["data_available"]

    everything = (await hub.get("/api/v1/benchmarks")).json()
    assert everything["total_count"] == len(everything["benchmarks"]) > len(bare)
    math = (await hub.get("/api/v1/benchmarks", params={"category": "math"})).json()
    assert math["total_count"] > 0 and {b["category"] for b in math["benchmarks"]} == {"math"}
    assert "gsm8k" in {b["benchmark_id"] for b in math["benchmarks"]}
    tagged = (await hub.get("/api/v1/benchmarks", params={"tags": "multiple_choice,science"})).json()
    assert all({"multiple_choice", "science"} <= set(b["tags"]) for b in tagged["benchmarks"])
    assert (await hub.get("/api/v1/benchmarks", params={"category": "cooking"})).status_code == 400

    cols = (await hub.get("/api/v1/collections")).json()
    assert cols["total_collections"] == len(cols["collections"])
    risk_low = next(c for c in cols["collections"] if c["collection_id"] == "risk_low")
    assert [(b["provider_id"], b["benchmark_id"]) for b in risk_low["benchmarks"]] == [
        ("lm_evaluation_harness", "hellaswag"),
        ("lm_evaluation_harness", "arc_easy"),
    ]


async def test_model_lifecycle(
    hub: httpx.AsyncClient, hub_app: FastAPI, environ: dict[str, str], fake: FakeServer
) -> None:
    listed = (await hub.get("/api/v1/models")).json()
    assert [m["model_id"] for m in listed["runtime_models"]] == [MODEL]
    assert listed["models"] == [] and listed["total_models"] == 1
    runtime = listed["runtime_models"][0]
    assert runtime["model_type"] == "openai-compatible" and runtime["model_path"] == "fake-model"

    r = await hub.post("/api/v1/models", json=GROQ)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["model_id"] == GROQ["model_id"] and created["created_at"]
    assert created["capabilities"] == GROQ["capabilities"] and created["probe"]["ok"] is False
    assert (await hub.post("/api/v1/models", json=GROQ)).status_code == 409

    vllm = {
        **GROQ,
        "model_id": "local-llama",
        "model_type": "vllm",
        "base_url": fake.base_url,
        "model_path": "fake-model",
    }
    r = await hub.post("/api/v1/models", json=vllm)
    assert r.status_code == 201
    probe = r.json()["probe"]
    assert probe["ok"] is True and probe["capabilities"]["supports_logprobs"] is True
    assert r.json()["capabilities"]["supports_logprobs"] is True  # found by the probe, merged in

    # The same row on the Research Lab side.
    lab = (await hub.get(f"/models/{created['id']}")).json()
    assert lab["model_id"] == GROQ["model_id"] and lab["model_identifier"] == GROQ["model_path"]

    update = {
        "model_name": "Llama 3.1 70B (Groq) - Updated",
        "description": "Updated description",
        "status": "active",
        "tags": ["groq", "llama", "openai-compatible", "fast", "updated"],
    }
    r = await hub.put(f"/api/v1/models/{GROQ['model_id']}", json=update)
    assert r.status_code == 200 and r.json()["model_name"] == update["model_name"]
    assert r.json()["tags"][-1] == "updated" and r.json()["config"] == GROQ["config"]
    r = await hub.put(f"/api/v1/models/{GROQ['model_id']}", json={"status": "inactive"})
    active = (await hub.get("/api/v1/models", params={"include_inactive": False})).json()
    assert {m["model_id"] for m in active["models"]} == {"local-llama"} and active["total_models"] == 2

    r = await hub.put(f"/api/v1/models/{MODEL}", json={"model_name": "x"})
    assert r.status_code == 400 and "runtime" in r.json()["detail"]
    assert (await hub.delete(f"/api/v1/models/{MODEL}")).status_code == 400

    r = await hub.delete(f"/api/v1/models/{GROQ['model_id']}")
    assert r.status_code == 200 and "deleted" in r.json()["message"]
    r = await hub.get(f"/api/v1/models/{GROQ['model_id']}")
    assert r.status_code == 404 and GROQ["model_id"] in r.json()["detail"]

    r = await hub.post("/api/v1/models/local-llama/probe")
    assert r.status_code == 200 and r.json()["probe"]["ok"] is True

    # Reload picks up a new runtime model and drops one no longer configured.
    environ.pop("LAB_MODEL_GPT4O_MINI_URL")
    environ.update({"LAB_MODEL_SECOND_URL": fake.base_url, "LAB_MODEL_SECOND_PATH": "fake-model"})
    r = await hub.post("/api/v1/models/reload")
    assert (
        r.status_code == 200 and r.json()["runtime_models"] == ["second"] and r.json()["removed"] == [MODEL]
    )
    listed = (await hub.get("/api/v1/models")).json()
    assert [m["model_id"] for m in listed["runtime_models"]] == ["second"]
    assert listed["runtime_models"][0]["probe"]["ok"] is True


def test_runtime_models_from_env() -> None:
    from llm_research_lab.server.hub.runtime import runtime_models_from_env

    models, problems = runtime_models_from_env(
        {
            "LAB_MODEL_LLAMA_3_URL": "http://x:8000",
            "LAB_MODEL_LLAMA_3_TYPE": "vllm",
            "LAB_MODEL_LLAMA_3_API_KEY_ENV": "VLLM_KEY",
            "LAB_MODEL_BAD_URL": "http://y",
            "LAB_MODEL_BAD_TYPE": "skynet",
            "LAB_MODEL_NOURL_NAME": "ignored",
            "OTHER": "1",
        }
    )
    assert [(m.model_id, m.model_type, m.model_path, m.api_key_env) for m in models] == [
        ("llama-3", "vllm", "llama-3", "VLLM_KEY")
    ]
    assert len(problems) == 1 and "skynet" in problems[0]
