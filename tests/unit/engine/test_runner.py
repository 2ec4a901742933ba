"""The runner end to end: a tiny in-test benchmark against the fake server over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from llm_research_lab.engine.concurrency import AIMDLimiter, EndpointGuard, FailureBudget, RetryPolicy
from llm_research_lab.engine.models import CapabilityError, FailureBudgetExceeded, ModelSpec
from llm_research_lab.engine.models.mock import MockClient
from llm_research_lab.engine.models.openai import OpenAICompatibleClient
from llm_research_lab.engine.runner import percentile, run_benchmark
from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
    Request,
    Response,
    ScoredSample,
)
from tests.fakes.openai_server import Fault, GenRule, LLRule, Script, running_openai_server

LETTERS = "ABCD"
DOCS = [
    {"q": "Capital of France?", "choices": ["Paris", "Lyon", "Nice"], "gold": 0},
    {"q": "Capital of Italy?", "choices": ["Milan", "Rome", "Turin"], "gold": 1},
    {"q": "Capital of Spain?", "choices": ["Madrid", "Seville", "Bilbao"], "gold": 0},
    {"q": "Capital of Japan?", "choices": ["Osaka", "Kyoto", "Tokyo"], "gold": 2},
]
# The model is right on docs 0, 1, 2 and picks Kyoto on doc 3: accuracy exactly 0.75.
PICKS = {0: "Paris", 1: "Rome", 2: "Madrid", 3: "Kyoto"}


@dataclass(frozen=True)
class Prepared:
    requests: tuple[Request, ...]
    prompt: str
    target: str
    gold: int


class TinyMC:
    """Log-likelihood multiple choice, shaped like engine.benchmarks (an `id`, not a `name`)."""

    id = "tiny_mc"

    def __init__(self) -> None:
        self.built = 0

    def build(self, doc: Mapping[str, Any], doc_id: int, fewshot: Sequence[Any]) -> Prepared:
        self.built += 1
        shots = "".join(f"Question: {d['q']}\nAnswer: {d['choices'][d['gold']]}\n\n" for d in fewshot)
        ctx = f"{shots}Question: {doc['q']}\nAnswer:"
        reqs = tuple(LoglikelihoodRequest(ctx, " " + c) for c in doc["choices"])
        return Prepared(reqs, ctx, doc["choices"][doc["gold"]], doc["gold"])

    def score(self, prepared: Prepared, responses: Sequence[Response]) -> dict[str, float]:
        lls = [r.logprob for r in responses if isinstance(r, LoglikelihoodResponse)]
        return {"acc": float(lls.index(max(lls)) == prepared.gold)}

    def aggregate(self, per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
        return {"acc": sum(d["acc"] for d in per_doc) / len(per_doc), "n": float(len(per_doc))}

    def generative_fallback(self) -> TinyLetter:
        return TinyLetter()


class TinyLetter(TinyMC):
    id = "tiny_mc_letter"

    def build(self, doc: Mapping[str, Any], doc_id: int, fewshot: Sequence[Any]) -> Prepared:
        opts = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(doc["choices"]))
        ctx = f"Question: {doc['q']}\n{opts}\nAnswer with the letter."
        return Prepared(
            (GenerateRequest(ctx, until=("\n",), max_gen_toks=4),), ctx, LETTERS[doc["gold"]], doc["gold"]
        )

    def score(self, prepared: Prepared, responses: Sequence[Response]) -> dict[str, float]:
        text = responses[0].text if isinstance(responses[0], GenerateResponse) else ""
        return {"acc": float(text.strip()[:1] == LETTERS[prepared.gold])}


def mc_script(**kw: Any) -> Script:
    rules = []
    for i, doc in enumerate(DOCS):
        for c in doc["choices"]:
            rules.append(LLRule(doc["q"], " " + c, -0.5 if c == PICKS[i] else -4.0, greedy=c == PICKS[i]))
    letters = [
        GenRule(doc["q"], LETTERS[doc["choices"].index(PICKS[i])] + "\nExplanation")
        for i, doc in enumerate(DOCS)
    ]
    return Script(ll_rules=rules, gen_rules=letters, **kw)


class MemorySink:
    def __init__(self, existing: Mapping[int, ScoredSample] | None = None) -> None:
        self.samples: dict[int, ScoredSample] = dict(existing or {})
        self.batches: list[int] = []
        self.recorded: list[int] = []

    async def completed(self, benchmark: str) -> Mapping[int, ScoredSample]:
        return {i: s for i, s in self.samples.items() if s.benchmark == benchmark}

    async def record(self, samples: Sequence[ScoredSample]) -> None:
        self.batches.append(len(samples))
        for s in samples:
            assert s.doc_id not in self.samples, "a doc was recorded twice"
            self.samples[s.doc_id] = s
            self.recorded.append(s.doc_id)


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int, dict[str, float]]] = []

    async def __call__(self, benchmark: str, done: int, total: int, running: Mapping[str, float]) -> None:
        self.calls.append((done, total, dict(running)))


def client_for(
    url: str, *, batch_size: int = 8, policy: RetryPolicy | None = None, budget: FailureBudget | None = None
) -> OpenAICompatibleClient:
    spec = ModelSpec("openai-compatible", "fake-model", base_url=url, batch_size=batch_size)
    guard = EndpointGuard(
        url,
        AIMDLimiter(8, 16),
        policy or RetryPolicy(max_attempts=3, base_delay=0.01),
        budget or FailureBudget(url),
    )
    return OpenAICompatibleClient(spec, guard=guard)


@pytest.fixture
def script() -> Script:
    return mc_script()


@pytest.fixture
def url(script: Script) -> Iterator[str]:
    with running_openai_server(script) as base:
        yield base


async def test_end_to_end_loglikelihood(url: str, script: Script) -> None:
    client = client_for(url)
    sink, progress = MemorySink(), Progress()
    try:
        result = await run_benchmark(TinyMC(), DOCS, client, sink, progress=progress, concurrency=2)
    finally:
        await client.aclose()
    assert result.status == "completed" and result.method == "loglikelihood"
    assert result.benchmark == "tiny_mc"
    assert result.metrics == {"acc": 0.75, "n": 4.0}
    assert (result.num_docs, result.num_scored, result.num_resumed, result.num_failed) == (4, 4, 0, 0)
    assert [sink.samples[i].scores["acc"] for i in range(4)] == [1.0, 1.0, 1.0, 0.0]
    assert sink.samples[3].response == " Kyoto" and sink.samples[3].target == "Tokyo"
    assert sink.samples[0].extra["logprobs"] == [-0.5, -4.0, -4.0]
    assert sink.samples[0].prompt_tokens > 0
    # batch_size 8: one HTTP request per doc carrying its three choices
    assert script.count("/v1/completions") == 4
    assert all(len(b["prompt"]) == 3 for b in script.bodies("/v1/completions"))
    assert progress.calls[0] == (0, 4, {})
    assert progress.calls[-1][0:2] == (4, 4) and progress.calls[-1][2]["acc"] == 0.75
    assert result.timing.requests == 4 and result.timing.latency_ms_p50 > 0
    assert result.timing.prompt_tokens == sum(s.prompt_tokens for s in sink.samples.values())
    assert result.timing.samples_per_second > 0


async def test_fewshot_and_limit(url: str, script: Script) -> None:
    client = client_for(url)
    sink = MemorySink()
    try:
        result = await run_benchmark(
            TinyMC(),
            DOCS,
            client,
            sink,
            limit=2,
            fewshot=lambda doc_id, doc: [DOCS[3]] if doc_id == 0 else [],
        )
    finally:
        await client.aclose()
    assert result.num_docs == 2 and sorted(sink.samples) == [0, 1]
    assert sink.samples[0].prompt.startswith("Question: Capital of Japan?\nAnswer: Tokyo\n\n")
    assert not sink.samples[1].prompt.startswith("Question: Capital of Japan")


async def test_resume_never_resends_completed_docs(url: str, script: Script) -> None:
    earlier = {
        i: ScoredSample("tiny_mc", i, "h", "p", "r", "t", {"acc": 1.0}) for i in (0, 3)
    }  # doc 3 was (wrongly) scored 1.0 earlier: the ledger is the truth on resume
    sink = MemorySink(earlier)
    client = client_for(url)
    try:
        result = await run_benchmark(TinyMC(), DOCS, client, sink)
    finally:
        await client.aclose()
    sent = " ".join(str(b["prompt"]) for b in script.bodies("/v1/completions"))
    assert "Capital of France" not in sent and "Capital of Japan" not in sent
    assert "Capital of Italy" in sent and "Capital of Spain" in sent
    assert sorted(sink.recorded) == [1, 2]
    assert (result.num_resumed, result.num_scored) == (2, 2)
    assert result.metrics["acc"] == 1.0  # 2 resumed (1.0 each) + 2 new (both right)


async def test_generative_letter_fallback_on_chat_only_endpoint() -> None:
    script = mc_script(chat_only=True)
    with running_openai_server(script) as base:
        client = client_for(base)
        await client.probe()
        sink = MemorySink()
        try:
            result = await run_benchmark(TinyMC(), DOCS, client, sink)
        finally:
            await client.aclose()
    assert result.method == "generative_letter" and result.benchmark == "tiny_mc_letter"
    assert result.metrics["acc"] == 0.75
    assert sink.samples[3].response == "B"  # "B\nExplanation" (Kyoto) cut at the stop sequence
    assert script.count("/v1/chat/completions") - 1 == 4  # minus the probe's chat call


async def test_loglikelihood_benchmark_without_fallback_on_chat_only_client_fails_clearly() -> None:
    class NoFallback(TinyMC):
        generative_fallback = None  # type: ignore[assignment]

    client = MockClient(supports_logprobs=False)
    with pytest.raises(CapabilityError, match="needs log-likelihoods"):
        await run_benchmark(NoFallback(), DOCS, client, MemorySink())


async def test_cancel_stops_within_two_seconds() -> None:
    script = mc_script(latency_ms=30_000)
    with running_openai_server(script) as base:
        client = client_for(base)
        cancel = asyncio.Event()
        task = asyncio.create_task(run_benchmark(TinyMC(), DOCS * 50, client, MemorySink(), cancel=cancel))
        await asyncio.sleep(0.3)
        assert script.count() > 0  # requests are in flight
        t0 = time.monotonic()
        cancel.set()
        result = await asyncio.wait_for(task, 5)
        elapsed = time.monotonic() - t0
        await client.aclose()
    assert elapsed < 2.0
    assert result.status == "cancelled" and result.num_scored == 0 and result.metrics == {}


async def test_cancel_keeps_samples_already_scored() -> None:
    mock = MockClient(latency_s=0.01)
    sink = MemorySink()
    cancel = asyncio.Event()
    task = asyncio.create_task(run_benchmark(TinyMC(), DOCS * 200, mock, sink, cancel=cancel, concurrency=4))
    await asyncio.sleep(0.3)
    cancel.set()
    result = await asyncio.wait_for(task, 2)
    assert result.status == "cancelled"
    assert 0 < result.num_scored < 800
    assert len(sink.samples) == result.num_scored  # everything scored was persisted


async def test_failure_budget_fails_the_run_with_a_clear_message() -> None:
    script = mc_script()
    script.add_fault(Fault(status=503, times=-1, body="upstream down"))
    with running_openai_server(script) as base:
        client = client_for(
            base,
            policy=RetryPolicy(max_attempts=2, base_delay=0.001),
            budget=FailureBudget(base, max_consecutive=10),
        )
        t0 = time.monotonic()
        try:
            with pytest.raises(FailureBudgetExceeded) as info:
                await run_benchmark(TinyMC(), DOCS * 100, client, MemorySink(), concurrency=4)
        finally:
            await client.aclose()
    assert time.monotonic() - t0 < 5
    assert base in str(info.value) and "HTTP 503" in str(info.value)
    assert script.count() < 50  # stopped early instead of grinding through 400 docs


async def test_a_deterministic_400_fails_one_doc_not_the_run() -> None:
    script = mc_script()
    script.add_fault(Fault(status=400, times=-1, prompt_contains="Capital of Italy", body="too long"))
    with running_openai_server(script) as base:
        client = client_for(base)
        sink = MemorySink()
        try:
            result = await run_benchmark(TinyMC(), DOCS, client, sink)
        finally:
            await client.aclose()
    assert result.num_failed == 1 and result.failed_doc_ids == [1]
    assert result.last_error is not None and "too long" in result.last_error
    assert sorted(sink.samples) == [0, 2, 3]
    assert result.metrics["acc"] == pytest.approx(2 / 3)
    # Doc 1: its 3-prompt list was refused, then its prompts alone (to rule out "no lists here");
    # the first single 400 cancels the others. Nothing is retried: no payload is sent twice.
    italy = [b for b in script.bodies("/v1/completions") if "Italy" in str(b["prompt"])]
    assert sum(isinstance(b["prompt"], list) for b in italy) == 1
    singles = [b["prompt"] for b in italy if isinstance(b["prompt"], str)]
    assert 1 <= len(singles) == len(set(singles)) <= 3
    assert script.count() == 3 + len(italy)
    # ...and batching stays on for the other docs, since single prompts failed too.
    assert all(
        isinstance(b["prompt"], list)
        for b in script.bodies("/v1/completions")
        if "Italy" not in str(b["prompt"])
    )


async def test_memory_stays_flat_bounded_prefetch() -> None:
    bench = TinyMC()
    sink = MemorySink()
    mock = MockClient(latency_s=0.001)
    high_water = 0

    original = bench.build

    def build(doc: Mapping[str, Any], doc_id: int, fewshot: Sequence[Any]) -> Prepared:
        nonlocal high_water
        high_water = max(high_water, bench.built - len(sink.samples))
        return original(doc, doc_id, fewshot)

    bench.build = build  # type: ignore[method-assign]
    result = await run_benchmark(bench, DOCS * 250, mock, sink, concurrency=4, flush_every=10)
    assert result.num_scored == 1000
    # built-but-unrecorded docs: queue (2 x 4) + workers (4) + unflushed buffer (< 10)
    assert high_water <= 8 + 4 + 10 + 1
    assert max(sink.batches) <= 10


def test_percentile() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([float(i) for i in range(101)], 99) == 99.0
