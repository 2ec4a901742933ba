"""HumanEval through the Eval Hub: generated code is scored only inside the sandbox."""

from __future__ import annotations

import httpx

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.registry import create_benchmark
from tests.fakes.openai_server import GenRule, Script
from tests.integration.hub.helpers import MODEL, wait_status


async def test_humaneval_pass_at_1_counts_only_programs_that_pass(
    hub: httpx.AsyncClient, script: Script
) -> None:
    bench = create_benchmark("humaneval")
    docs = bench.docs(load_catalog().resolver().source("humaneval"))[:6]
    # The model answers the canonical body on the first four problems; the other two get code that
    # runs but returns the wrong value, and one tries the network (blocked in the sandbox).
    for doc in docs[:4]:
        script.gen_rules.append(GenRule(doc["prompt"], doc["canonical_solution"]))
    script.gen_rules.append(GenRule(docs[4]["prompt"], "    return None\n"))
    script.gen_rules.append(
        GenRule(
            docs[5]["prompt"],
            "    import urllib.request\n    return urllib.request.urlopen('http://127.0.0.1:1').read()\n",
        )
    )
    body = {
        "model_name": MODEL,
        "model_configuration": {"temperature": 0.0, "max_tokens": 512},
        "limit": 6,
        "num_fewshot": 0,
        "experiment_name": "HumanEval sandboxed",
    }
    r = await hub.post("/api/v1/evaluations/benchmarks/lm_evaluation_harness/humaneval", json=body)
    assert r.status_code == 202, r.text
    status = await wait_status(hub, r.json()["request_id"], timeout=180)
    assert status["status"] == "completed", status
    (result,) = status["results"]
    assert result["metrics"]["pass@1"] == 4 / 6
    samples = (
        await hub.get(f"/api/v1/evaluations/{status['request_id']}/samples", params={"limit": 10})
    ).json()
    by_doc = {s["doc_id"]: s["scores"]["pass@1"] for s in samples["data"]}
    assert by_doc == {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.0, 5: 0.0}
