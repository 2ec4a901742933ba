"""Research Lab managed runs: a run of an experiment whose config names models and data is
executed by the same engine, and gets an Evaluation with quality and serving metrics."""

from __future__ import annotations

import random
from typing import Any

import httpx

from llm_research_lab.catalog import load_catalog
from tests.fakes.openai_server import FakeServer, GenRule, Script
from tests.integration.hub.helpers import prepared_docs, script_mc, wait_until

PRICING = {"input_per_million": 2.5, "output_per_million": 10.0}


async def _model(hub: httpx.AsyncClient, fake: FakeServer) -> str:
    r = await hub.post(
        "/models",
        json={
            "name": "Fake GPT",
            "provider": "openai-compatible",
            "model_identifier": "fake-model",
            "base_url": fake.base_url,
            "config": {"pricing": PRICING},
        },
    )
    assert r.status_code == 201, r.text
    model_id: str = r.json()["id"]
    return model_id


async def _run_to_end(hub: httpx.AsyncClient, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    r = await hub.post("/experiments", json={"name": "lab managed", "config": config})
    assert r.status_code == 201, r.text
    exp_id = r.json()["id"]
    r = await hub.post(f"/experiments/{exp_id}/runs", json={})
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["managed"] is True and run["status"] == "queued"

    async def finished() -> bool:
        got = (await hub.get(f"/experiments/{exp_id}/runs/{run['id']}")).json()
        return got["status"] in {"completed", "failed", "cancelled", "timed_out"}

    await wait_until(finished)
    final: dict[str, Any] = (await hub.get(f"/experiments/{exp_id}/runs/{run['id']}")).json()
    return exp_id, final


async def test_benchmark_run_gets_quality_and_serving_metrics(
    hub: httpx.AsyncClient, script: Script, fake: FakeServer
) -> None:
    docs = prepared_docs("arc_easy", 12)
    script_mc(script, docs, right=9)
    model_id = await _model(hub, fake)
    exp_id, run = await _run_to_end(
        hub,
        {
            "model_ids": [model_id],
            "benchmarks": ["arc_easy"],
            "num_samples": 12,
            "evaluation_metrics": ["accuracy", "latency", "cost"],
        },
    )
    assert run["status"] == "completed", run
    (ev,) = (await hub.get("/evaluations", params={"run_id": run["id"]})).json()["data"]
    m = ev["metrics"]
    assert m["acc"] == 9 / 12 and m["num_samples"] == 12
    assert m["latency_p50_ms"] > 0 and m["latency_p99_ms"] >= m["latency_p50_ms"]
    assert m["total_tokens"] == m["prompt_tokens"] + m["completion_tokens"] > 0
    expected_cost = (m["prompt_tokens"] * 2.5 + m["completion_tokens"] * 10.0) / 1_000_000
    assert abs(m["cost_usd"] - expected_cost) < 1e-12 and m["tokens_per_second"] > 0
    samples = (await hub.get(f"/experiments/{exp_id}/runs/{run['id']}/samples")).json()
    assert samples["pagination"]["total"] == 12
    agg = (await hub.get(f"/experiments/{exp_id}/metrics")).json()["aggregated_metrics"]
    assert agg["acc"]["mean"] == 9 / 12


async def test_template_run_scores_generations(
    hub: httpx.AsyncClient, script: Script, fake: FakeServer
) -> None:
    source = load_catalog().resolver().source("gsm8k")
    rows = list(source.rows("test"))
    order = list(range(len(rows)))
    random.Random(7).shuffle(order)
    chosen = [rows[i] for i in order[:6]]
    for row in chosen[:4]:
        script.gen_rules.append(GenRule(row["question"], row["answer"]))
    r = await hub.post("/prompts", json={"name": "qa", "template": "Q: {{question}}\nA:"})
    assert r.status_code == 201, r.text
    model_id = await _model(hub, fake)
    _, run = await _run_to_end(
        hub,
        {
            "model_ids": [model_id],
            "benchmarks": ["gsm8k"],
            "prompt_template_ids": [r.json()["id"]],
            "num_samples": 6,
            "random_seed": 7,
            "evaluation_metrics": ["accuracy", "f1", "bleu"],
        },
    )
    assert run["status"] == "completed", run
    (ev,) = (await hub.get("/evaluations", params={"run_id": run["id"]})).json()["data"]
    assert ev["metrics"]["accuracy"] == 4 / 6
    assert 4 / 6 <= ev["metrics"]["f1"] < 1 and "bleu" in ev["metrics"]
    sent = [b["messages"][-1]["content"] for b in script.bodies("/v1/chat/completions") if "messages" in b]
    assert sorted(p for p in sent if p.startswith("Q: ")) == sorted(
        f"Q: {row['question']}\nA:" for row in chosen
    )


async def test_config_without_known_models_stays_tracked(hub: httpx.AsyncClient) -> None:
    r = await hub.post(
        "/experiments",
        json={
            "name": "tracked",
            "config": {"model_ids": ["00000000-0000-4000-8000-00000000dead"], "benchmarks": ["arc_easy"]},
        },
    )
    run = (await hub.post(f"/experiments/{r.json()['id']}/runs", json={})).json()
    assert run["managed"] is False and run["status"] == "pending"
