"""Eval Hub jobs on the NeMo Evaluator backend (local mode: the real nemo-evaluator 0.2.5 core in a
subprocess, catalog benchmarks handed over as bring-your-own benchmarks) against the loopback fake
chat endpoint, with answers scripted so the expected scores are known."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.backends.nemo import LETTERS, gsm8k_answer
from llm_research_lab.engine.registry import create_benchmark
from tests.fakes.openai_server import FakeServer, Script
from tests.integration.hub.helpers import MODEL, runtime_env, wait_status

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ARC_RIGHT = 3  # of 5
GSM_RIGHT = 2  # of 5


def _answers() -> dict[str, str]:
    """Question text -> the reply: right on the first ARC_RIGHT / GSM_RIGHT docs, wrong after."""
    out: dict[str, str] = {}
    resolver = load_catalog().resolver()
    arc = create_benchmark("arc_challenge")
    docs = arc.docs(resolver.source("arc_challenge"))
    for i in range(5):
        p = arc.build(docs[i], i, [])
        assert p.gold is not None
        pick = p.gold if i < ARC_RIGHT else (p.gold + 1) % len(p.choices)
        out[p.prompt.removesuffix("Answer:").rstrip()] = LETTERS[pick]
    gsm = create_benchmark("gsm8k")
    docs = gsm.docs(resolver.source("gsm8k"))
    for i in range(5):
        p = gsm.build(docs[i], i, [])
        truth = gsm8k_answer(str(p.target))
        out[p.prompt.removesuffix("Answer:").rstrip()] = (
            f"So the answer is {truth}." if i < GSM_RIGHT else f"It is {int(float(truth)) + 1}."
        )
    return out


@pytest.fixture
def script() -> Script:
    answers = _answers()

    def answer(prompt: str) -> str:
        for question, reply in answers.items():
            if question in prompt:
                return reply
        return "no idea"

    return Script(model="fake-model", answer_fn=answer)


def multi_container(chat_url: str) -> dict[str, Any]:
    """The notebook's multi-container example: two nemo-evaluator backends, four benchmarks; the
    model endpoint points at the fake server and limits are 5."""

    def backend(name: str, benchmarks: list[tuple[str, str, int]], **cfg: Any) -> dict[str, Any]:
        return {
            "name": name,
            "type": "nemo-evaluator",
            "config": {
                "endpoint": f"{name}.example.com",
                "port": 3825,
                "model_endpoint": chat_url,
                "endpoint_type": "chat",
                "api_key_env": "GROQ_API_KEY",
                "framework_name": f"eval-hub-{name}",
                **cfg,
            },
            "benchmarks": [
                {"name": n, "tasks": [t], "config": {"limit": 5, "num_fewshot": shots}}
                for n, t, shots in benchmarks
            ],
        }

    return {
        "experiment_name": "Multi-Container NeMo Evaluation",
        "evaluations": [
            {
                "name": "Distributed LLaMA Evaluation",
                "model_name": MODEL,
                "model_configuration": {"temperature": 0.1, "max_tokens": 512, "top_p": 0.95},
                "backends": [
                    backend(
                        "academic-evaluator",
                        [("mmlu_pro", "mmlu_pro", 5), ("arc_challenge", "arc_challenge", 25)],
                        timeout_seconds=600,
                        parallelism=2,
                    ),
                    backend(
                        "math-evaluator",
                        [("gsm8k", "gsm8k", 8), ("math", "hendrycks_math", 4)],
                        temperature=0.0,
                        parallelism=1,
                    ),
                ],
                "timeout_minutes": 120,
                "retry_attempts": 2,
            }
        ],
        "tags": {"example_type": "nemo_evaluator_multi", "backend": "distributed_containers"},
    }


@pytest.fixture
def environ(fake: FakeServer) -> dict[str, str]:
    return runtime_env(fake.base_url, GROQ_API_KEY="test-key")


async def test_invalid_nemo_config_is_a_400_naming_the_field(
    hub: httpx.AsyncClient, fake: FakeServer
) -> None:
    body = multi_container(fake.base_url)
    cfg = body["evaluations"][0]["backends"][0]["config"]
    cfg["endpoint_type"] = "embedding"
    cfg["mode"] = "remote"
    del cfg["endpoint"]
    cfg["scheme"] = "ftp"
    cfg["poll_interval_seconds"] = 0
    cfg["namespace"] = 7
    r = await hub.post("/api/v1/evaluations", json=body)
    assert r.status_code == 400, r.text
    fields = r.json()["details"]["fields"]
    assert set(fields) == {
        f"evaluations.0.backends.0.config.{key}"
        for key in ("endpoint_type", "endpoint", "scheme", "poll_interval_seconds", "namespace")
    }
    # Nothing was created for the refused request.
    assert (await hub.get("/api/v1/evaluations")).json() == []


async def test_multi_container_runs_as_one_job_with_per_backend_results(
    hub: httpx.AsyncClient, fake: FakeServer
) -> None:
    """The notebook's multi-container cell: one request, two nemo-evaluator backends, four
    benchmarks. arc_challenge and gsm8k run for real through nemo-evaluator against the fake chat
    endpoint (scores known from the script); mmlu_pro and hendrycks_math are NeMo framework tasks
    with no offline data, so they fail with an error naming why, and the request is failed with
    the two completed results kept."""
    r = await hub.post("/api/v1/evaluations", json=multi_container(fake.base_url + "/v1/chat/completions"))
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    status = await wait_status(hub, rid, timeout=420)
    assert status["status"] == "failed", status
    assert status["total_evaluations"] == 4
    by_name = {x["benchmark_name"]: x for x in status["results"]}
    assert set(by_name) == {"mmlu_pro", "arc_challenge", "gsm8k", "hendrycks_math"}
    assert {by_name[n]["backend_name"] for n in ("mmlu_pro", "arc_challenge")} == {"academic-evaluator"}
    assert {by_name[n]["backend_name"] for n in ("gsm8k", "hendrycks_math")} == {"math-evaluator"}
    assert all(x["backend_type"] == "nemo-evaluator" for x in status["results"])

    arc, gsm = by_name["arc_challenge"], by_name["gsm8k"]
    assert arc["status"] == "completed", arc
    assert arc["metrics"]["acc"] == pytest.approx(ARC_RIGHT / 5)
    assert gsm["status"] == "completed", gsm
    assert gsm["metrics"]["exact_match"] == pytest.approx(GSM_RIGHT / 5)
    for name in ("mmlu_pro", "hendrycks_math"):
        res = by_name[name]
        assert res["status"] == "failed", res
        assert "framework task" in res["error"] and "remote" in res["error"], res["error"]
    assert status["completed_evaluations"] == 2 and status["failed_evaluations"] == 2

    # The answers went through nemo-evaluator to the fake endpoint: 5 arc + 5 gsm8k chat requests.
    chats = [r for r in fake.script.requests if r.path == "/v1/chat/completions"]
    assert len(chats) >= 10

    # BYOB's per-sample predictions are in the ledger: what was asked, answered and scored.
    for benchmark, metric, right in (
        ("arc_challenge", "acc", ARC_RIGHT),
        ("gsm8k", "exact_match", GSM_RIGHT),
    ):
        page = (await hub.get(f"/api/v1/evaluations/{rid}/samples", params={"benchmark": benchmark})).json()
        rows = page["data"]
        assert len(rows) == 5, page
        assert sum(row["scores"][metric] for row in rows) == right
        assert all(row["extra"]["backend"] == "nemo-evaluator" for row in rows)
        assert all(row["prompt"] and row["response"] for row in rows)
    arc_rows = (
        await hub.get(f"/api/v1/evaluations/{rid}/samples", params={"benchmark": "arc_challenge"})
    ).json()["data"]
    assert {row["target"] for row in arc_rows} <= set(LETTERS)
