"""Score parity: the native engine and the real lm-evaluation-harness, same endpoint, same data.

For every document both must build the same prompt, get the same log-likelihood for every choice
(so pick the same choice) and score the same; for GSM8K the same generation, extraction and exact
match. Benchmark-level scores must then be equal. The endpoint's log-probabilities hash the whole
prefix (conftest.py), so any prompt difference shows up as a score difference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.backends import BackendTask
from llm_research_lab.engine.backends.lm_eval import LmEvalBackend
from llm_research_lab.engine.models import ModelSpec, create_client
from llm_research_lab.engine.registry import create_benchmark
from llm_research_lab.engine.runner import run_benchmark
from llm_research_lab.engine.types import ScoredSample
from tests.parity.conftest import MODEL, Endpoint

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]


class MemorySink:
    def __init__(self) -> None:
        self.samples: dict[int, ScoredSample] = {}

    async def completed(self, benchmark: str) -> Mapping[int, ScoredSample]:
        return {}

    async def record(self, samples: Sequence[ScoredSample]) -> None:
        for s in samples:
            assert s.doc_id not in self.samples, f"doc {s.doc_id} recorded twice"
            self.samples[s.doc_id] = s


# (benchmark, num_fewshot, limit)
CASES = [
    ("arc_easy", 0, 40),
    ("arc_easy", 3, 20),
    ("arc_challenge", 0, 40),
    ("hellaswag", 0, 30),
    ("winogrande", 0, 40),
    ("piqa", 0, 40),
    ("mmlu_astronomy", 0, 25),
    ("mmlu_college_biology", 5, 20),
    ("truthfulqa_mc1", 0, 30),
    ("truthfulqa_mc2", 0, 30),
    ("gsm8k", 5, 25),
]


def spec(endpoint: Endpoint) -> ModelSpec:
    return ModelSpec(
        "openai-compatible",
        MODEL,
        base_url=endpoint.base_url,
        generation_endpoint="completions",
        max_concurrency=8,
    )


async def run_native(
    endpoint: Endpoint, benchmark: str, shots: int, limit: int
) -> tuple[dict[str, float], dict[int, ScoredSample]]:
    bench = create_benchmark(benchmark)
    source = load_catalog().resolver().source(benchmark)
    client = create_client(spec(endpoint))
    sink = MemorySink()
    try:
        result = await run_benchmark(
            bench, bench.docs(source), client, sink, limit=limit, num_fewshot=shots, source=source
        )
    finally:
        await client.aclose()
    assert result.status == "completed" and result.num_failed == 0
    return dict(result.metrics), sink.samples


async def run_lm_eval(
    endpoint: Endpoint, benchmark: str, shots: int, limit: int
) -> tuple[dict[str, float], dict[int, ScoredSample]]:
    backend = LmEvalBackend({"parallelism": 8}, resolver=load_catalog().resolver())
    sink = MemorySink()
    result = await backend.run(spec(endpoint), BackendTask(benchmark, num_fewshot=shots, limit=limit), sink)
    assert result.status == "completed"
    assert result.num_docs == limit and result.num_scored == limit
    return dict(result.metrics), sink.samples


@pytest.mark.parametrize(("benchmark", "shots", "limit"), CASES, ids=[f"{b}-{k}shot" for b, k, _ in CASES])
async def test_native_and_lm_eval_agree(
    parity_endpoint: Endpoint, benchmark: str, shots: int, limit: int
) -> None:
    native_metrics, native = await run_native(parity_endpoint, benchmark, shots, limit)
    lm_metrics, lm = await run_lm_eval(parity_endpoint, benchmark, shots, limit)

    assert sorted(native) == sorted(lm) == list(range(limit))
    for doc_id in range(limit):
        ours, theirs = native[doc_id], lm[doc_id]
        where = f"{benchmark} doc {doc_id}"
        if benchmark != "winogrande":  # winogrande's contexts differ per option; the logprobs cover them
            assert ours.prompt == theirs.prompt, f"{where}: prompts differ"
        if benchmark == "gsm8k":
            assert ours.response == theirs.response, f"{where}: generations differ"
        else:
            ours_lp, theirs_lp = ours.extra["logprobs"], theirs.extra["logprobs"]
            assert len(ours_lp) == len(theirs_lp), f"{where}: number of choices differs"
            for a, b in zip(ours_lp, theirs_lp, strict=True):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {ours_lp} != {theirs_lp}"
            assert ours.response == theirs.response, f"{where}: picked different choices"
        assert ours.scores == pytest.approx(theirs.scores, abs=1e-9), f"{where}: scores differ"

    # The benchmark-level score: every metric lm-eval reports, equal (stderr included).
    assert lm_metrics, "lm-eval reported no metrics"
    for name, value in lm_metrics.items():
        assert name in native_metrics, f"{benchmark}: native lacks {name} (has {sorted(native_metrics)})"
        assert native_metrics[name] == pytest.approx(value, abs=1e-9), f"{benchmark}: {name}"
    # Scores vary across documents, so agreement is not trivially "all wrong".
    main = "exact_match_flexible" if benchmark == "gsm8k" else "acc"
    per_doc = {s.scores[main] for s in native.values()}
    assert len(per_doc) > 1 or benchmark.startswith("truthfulqa_mc1"), f"{benchmark}: constant {main}"
