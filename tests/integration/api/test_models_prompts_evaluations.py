"""Models, prompt templates, evaluations and the experiment metrics aggregate."""

from __future__ import annotations

import copy
import math
import statistics
import uuid

import httpx

from tests.integration.api.seed_payloads import EVAL_METRICS, EXPERIMENT, MODEL, PROMPT


async def test_model_crud_and_deep_merge(client: httpx.AsyncClient) -> None:
    r = await client.post("/models", json=MODEL)
    assert r.status_code == 201, r.text
    model = r.json()
    for key in ("name", "provider", "model_identifier", "version", "config"):
        assert model[key] == MODEL[key]
    r = await client.put(
        f"/models/{model['id']}", json={"version": "20250101", "config": {"max_context_window": 250000}}
    )
    assert r.status_code == 200
    cfg = r.json()["config"]
    assert r.json()["version"] == "20250101"
    assert cfg["max_context_window"] == 250000
    assert cfg["pricing"] == MODEL["config"]["pricing"] and cfg["supports_vision"] is True

    other = await client.post("/models", json={**MODEL, "name": "GPT-4o", "provider": "openai"})
    assert other.status_code == 201
    r = await client.get("/models", params={"provider": "openai"})
    assert [m["name"] for m in r.json()["data"]] == ["GPT-4o"]
    assert (await client.get(f"/models/{model['id']}")).json()["version"] == "20250101"
    assert (await client.delete(f"/models/{model['id']}")).status_code == 204
    assert (await client.get(f"/models/{model['id']}")).status_code == 404


async def test_model_validation(client: httpx.AsyncClient) -> None:
    r = await client.post("/models", json={**MODEL, "provider": "skynet"})
    assert r.status_code == 400 and "provider" in r.json()["details"]["fields"]
    r = await client.post("/models", json={**MODEL, "config": {"pricing": {"input_per_million": -1}}})
    assert r.status_code == 400


async def test_providers(client: httpx.AsyncClient) -> None:
    r = await client.get("/models/providers")
    names = [p["name"] for p in r.json()]
    assert names[:3] == ["openai", "anthropic", "google"]
    assert {"vllm", "openai-compatible", "ollama", "huggingface"} <= set(names)
    assert r.json()[0]["display_name"] == "OpenAI" and "gpt-4" in r.json()[0]["supported_models"]


async def test_prompt_crud_and_render(client: httpx.AsyncClient) -> None:
    r = await client.post("/prompts", json=PROMPT)
    assert r.status_code == 201, r.text
    tpl = r.json()
    assert tpl["variables"] == ["question"] and tpl["template"] == PROMPT["template"]
    question = "If a train leaves Chicago at 9 AM traveling at 60 mph ... when and where will they meet?"
    r = await client.post(f"/prompts/{tpl['id']}/render", json={"variables": {"question": question}})
    assert r.status_code == 200
    assert r.json() == {"rendered": PROMPT["template"].replace("{{question}}", question)}

    r = await client.post(f"/prompts/{tpl['id']}/render", json={"variables": {}})
    assert r.status_code == 400 and "variables.question" in r.json()["details"]["fields"]
    assert "question" in r.json()["message"]
    r = await client.post(f"/prompts/{tpl['id']}/render", json={"variables": {"question": "q", "extra": 1}})
    assert r.status_code == 400 and "extra" in r.json()["message"]

    r = await client.put(f"/prompts/{tpl['id']}", json={"default_values": {"question": "default q"}})
    assert r.status_code == 200
    r = await client.post(f"/prompts/{tpl['id']}/render", json={"variables": {}})
    assert "Problem: default q" in r.json()["rendered"]
    assert len((await client.get("/prompts")).json()["data"]) == 1
    assert (await client.delete(f"/prompts/{tpl['id']}")).status_code == 204


async def test_prompt_template_is_sandboxed_and_checked(client: httpx.AsyncClient) -> None:
    r = await client.post("/prompts", json={"name": "bad", "template": "{{ question "})
    assert r.status_code == 400 and "template" in r.json()["details"]["fields"]
    r = await client.post(
        "/prompts", json={"name": "undeclared", "template": "{{a}} {{b}}", "variables": ["a"]}
    )
    assert r.status_code == 400 and "b" in r.json()["details"]["fields"]["variables"]
    r = await client.post("/prompts", json={"name": "evil", "template": "{{ x.__class__.__mro__ }}"})
    assert r.status_code == 201
    r = await client.post(f"/prompts/{r.json()['id']}/render", json={"variables": {"x": "s"}})
    assert r.status_code == 400  # the sandbox refuses dunder access


async def _experiment_with_runs(client: httpx.AsyncClient, n: int) -> tuple[str, list[str]]:
    body = copy.deepcopy(EXPERIMENT)
    body["name"] = f"metrics-{uuid.uuid4()}"
    exp = (await client.post("/experiments", json=body)).json()
    runs = [(await client.post(f"/experiments/{exp['id']}/runs", json={})).json()["id"] for _ in range(n)]
    return exp["id"], runs


async def test_evaluations_and_aggregates(client: httpx.AsyncClient) -> None:
    exp_id, runs = await _experiment_with_runs(client, 3)
    accs = [0.812, 0.847, 0.871]
    created = []
    for run_id, acc in zip(runs, accs, strict=True):
        r = await client.post(
            "/evaluations",
            json={
                "experiment_id": exp_id,
                "run_id": run_id,
                "metrics": {**EVAL_METRICS, "accuracy": acc, "model": "x"},
                "metadata": {"evaluator_version": "1.2.0", "hardware": "NVIDIA A100", "batch_size": 32},
            },
        )
        assert r.status_code == 201, r.text
        created.append(r.json())
    assert created[0]["metrics"]["bleu"] == 0.723 and created[0]["metadata"]["batch_size"] == 32

    r = await client.get(f"/experiments/{exp_id}/metrics")
    assert r.status_code == 200
    agg = r.json()["aggregated_metrics"]
    assert set(agg) == set(EVAL_METRICS)  # "model" is not numeric
    assert math.isclose(agg["accuracy"]["mean"], statistics.mean(accs))
    assert math.isclose(agg["accuracy"]["std"], statistics.stdev(accs), rel_tol=1e-9)
    assert agg["accuracy"]["min"] == 0.812 and agg["accuracy"]["max"] == 0.871
    assert agg["accuracy"]["count"] == 3
    assert agg["total_tokens"]["std"] == 0.0
    per_run = {x["run_id"]: x["metrics"] for x in r.json()["runs"]}
    lean = (await client.get(f"/experiments/{exp_id}/metrics", params={"include_runs": "false"})).json()
    assert lean["runs"] == [] and lean["aggregated_metrics"] == agg
    assert per_run[runs[1]]["accuracy"] == 0.847

    r = await client.get("/evaluations", params={"run_id": runs[0]})
    assert [e["id"] for e in r.json()["data"]] == [created[0]["id"]]
    r = await client.get("/evaluations", params={"experiment_id": exp_id})
    assert r.json()["pagination"]["total"] == 3
    r = await client.get(f"/evaluations/{created[2]['id']}")
    assert r.json()["metrics"]["accuracy"] == 0.871


async def test_evaluation_validation(client: httpx.AsyncClient) -> None:
    exp_id, runs = await _experiment_with_runs(client, 1)
    other_exp, _ = await _experiment_with_runs(client, 0)
    r = await client.post(
        "/evaluations", json={"experiment_id": other_exp, "run_id": runs[0], "metrics": {"a": 1}}
    )
    assert r.status_code == 400 and "run_id" in r.json()["details"]["fields"]
    r = await client.post("/evaluations", json={"experiment_id": exp_id, "run_id": runs[0], "metrics": {}})
    assert r.status_code == 400
    r = await client.post(
        "/evaluations", json={"experiment_id": exp_id, "run_id": str(uuid.uuid4()), "metrics": {"a": 1}}
    )
    assert r.status_code == 404
    r = await client.get(f"/experiments/{uuid.uuid4()}/metrics")
    assert r.status_code == 404
