"""Run one benchmark against one model client.

Flow: resume from the sink (docs already scored are never sent again) -> a producer builds
prepared documents lazily into a small bounded queue -> a fixed pool of workers sends each doc's
requests, scores the doc as soon as its responses are in and hands the sample to a writer ->
the writer persists samples in small batches (every `flush_every` samples or `flush_interval`
seconds) and reports progress after each write, so progress never runs ahead of the ledger ->
at the end the benchmark aggregates all per-doc scores (old and new).

Memory stays flat for 100k-doc benchmarks: at most `2 x concurrency` prepared docs exist at a
time, and there is one task per worker, not per doc.

The runner codes against the small `RunnableBenchmark` protocol below, describing only what it
uses, so benchmark implementations can evolve independently.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from llm_research_lab.engine.concurrency import FailureBudget, FailureBudgetExceeded
from llm_research_lab.engine.models.base import ModelClient
from llm_research_lab.engine.models.errors import CapabilityError, ModelRequestError
from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
    ProgressCallback,
    Request,
    RequestType,
    Response,
    SampleSink,
    ScoredSample,
    request_hash,
)

# Same spelling as engine.benchmarks.base.Method: results say how multiple choice was asked.
Method = Literal["loglikelihood", "generate_until", "generative_letter"]
FewshotSampler = Callable[[int, Any], Sequence[Any]]


# --------------------------------------------------------------------------- protocols


class PreparedDocLike(Protocol):
    """What `build` returns: the requests for one document plus what the ledger shows."""

    @property
    def requests(self) -> Sequence[Request]: ...

    @property
    def prompt(self) -> str: ...

    @property
    def target(self) -> str: ...


class RunnableBenchmark(Protocol):
    """The part of a benchmark the runner needs.

    Optional, looked up with getattr so implementations need not define them:
    - `id` or `name`: the benchmark's name in the ledger and results;
    - `request_type`: a `RequestType` (else the first built doc's requests tell);
    - `fewshot_docs(source, num_fewshot, doc_id, doc) -> Sequence[doc]` (engine.benchmarks);
    - `generative_fallback() -> RunnableBenchmark`: a letter-answer variant for chat-only models;
    - `render_response(prepared, responses) -> str`: what the ledger shows as the response.
    """

    def build(self, doc: Any, doc_id: int, fewshot: list[Any]) -> PreparedDocLike: ...

    def score(self, prepared: Any, responses: list[Response]) -> Mapping[str, float]: ...

    def aggregate(self, per_doc: list[dict[str, float]]) -> Mapping[str, float]: ...


@runtime_checkable
class _HasGuard(Protocol):
    @property
    def guard(self) -> Any: ...


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class RunTiming:
    wall_seconds: float = 0.0
    samples_per_second: float = 0.0
    requests: int = 0
    retries: int = 0
    latency_ms_p50: float = 0.0
    latency_ms_p95: float = 0.0
    latency_ms_p99: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class BenchmarkRunResult:
    benchmark: str
    method: Method
    status: Literal["completed", "cancelled"]
    metrics: dict[str, float]
    num_docs: int
    num_scored: int  # scored in this call
    num_resumed: int  # already in the sink before this call
    num_failed: int  # docs whose requests failed for good (not in the sink; a resume retries them)
    timing: RunTiming
    failed_doc_ids: list[int] = field(default_factory=list)
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- helpers


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of an already sorted sequence."""
    if not sorted_values:
        return 0.0
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def benchmark_name(benchmark: Any) -> str:
    """`name`, else `id` (engine.benchmarks uses `id`), else the class name."""
    for attr in ("name", "id"):
        value = getattr(benchmark, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(benchmark).__name__


def _render(prepared: PreparedDocLike, responses: list[Response]) -> str:
    if responses and all(isinstance(r, GenerateResponse) for r in responses):
        return "\n".join(r.text for r in responses if isinstance(r, GenerateResponse))
    reqs = list(prepared.requests)
    best: tuple[float, str] | None = None
    for req, resp in zip(reqs, responses, strict=False):
        if (
            isinstance(req, LoglikelihoodRequest)
            and isinstance(resp, LoglikelihoodResponse)
            and (best is None or resp.logprob > best[0])
        ):
            best = (resp.logprob, req.continuation)
    return best[1] if best is not None else ""


def _uses_loglikelihood(benchmark: RunnableBenchmark, first: PreparedDocLike | None) -> bool:
    declared = getattr(benchmark, "request_type", None)
    if declared is not None:
        return str(declared) == RequestType.LOGLIKELIHOOD.value
    return first is not None and any(isinstance(r, LoglikelihoodRequest) for r in first.requests)


class _Writer:
    """Batches samples into the sink and reports progress after each durable write."""

    def __init__(
        self,
        sink: SampleSink,
        name: str,
        total: int,
        done: int,
        progress: ProgressCallback | None,
        flush_every: int,
        sums: dict[str, float],
    ) -> None:
        self.sink = sink
        self.name = name
        self.total = total
        self.done = done
        self.progress = progress
        self.flush_every = flush_every
        self.buffer: list[ScoredSample] = []
        self.sums = sums
        self.count = done
        self._lock = asyncio.Lock()

    def running(self) -> dict[str, float]:
        return {k: v / self.count for k, v in self.sums.items()} if self.count else {}

    async def add(self, sample: ScoredSample) -> None:
        self.buffer.append(sample)
        if len(self.buffer) >= self.flush_every:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            if not self.buffer:
                return
            batch, self.buffer = self.buffer, []
            try:
                await self.sink.record(batch)
            except BaseException:
                # Cancelled (or failed) mid-write: keep the batch so the final flush persists it;
                # the sink's unique key makes a write that did land before the cancel harmless.
                self.buffer = batch + self.buffer
                raise
            self.done += len(batch)
            for s in batch:
                self.count += 1
                for k, v in s.scores.items():
                    self.sums[k] = self.sums.get(k, 0.0) + float(v)
            await self.report()

    async def report(self) -> None:
        if self.progress is not None:
            await self.progress(self.name, self.done, self.total, self.running())

    async def run_periodic(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.flush()


# --------------------------------------------------------------------------- the runner


async def run_benchmark(
    benchmark: RunnableBenchmark,
    docs: Iterable[Any],
    client: ModelClient,
    sink: SampleSink,
    *,
    progress: ProgressCallback | None = None,
    cancel: asyncio.Event | None = None,
    limit: int | None = None,
    num_fewshot: int = 0,
    concurrency: int | None = None,
    source: Any = None,
    fewshot: FewshotSampler | None = None,
    fallback: RunnableBenchmark | None = None,
    prepared: bool = False,
    flush_every: int = 50,
    flush_interval: float = 0.5,
) -> BenchmarkRunResult:
    """Score `docs` (doc id = position) with `client`, persisting each sample to `sink`.

    `prepared=True` means `docs` are already `PreparedDocLike` (no `build` call). Few-shot
    examples come from `fewshot(doc_id, doc)`, else, when `num_fewshot > 0` and a `source` is
    given, from `benchmark.fewshot_docs(source, num_fewshot, doc_id, doc)`. `concurrency` caps
    docs in flight (default: the client's `capabilities.max_concurrency`); the client's own
    adaptive limiter caps HTTP requests. If the benchmark asks for log-likelihoods and the client
    has none, `fallback` (else `benchmark.generative_fallback()`) is run instead.

    Returns metrics and timing; status "cancelled" (with partial metrics) if `cancel` was set.
    Raises FailureBudgetExceeded / CapabilityError / a fatal ModelRequestError to fail the run;
    samples scored before the failure are still persisted.
    """
    started = time.perf_counter()
    all_docs = docs if isinstance(docs, Sequence) else list(docs)
    total = len(all_docs) if limit is None else min(limit, len(all_docs))

    # Decide the method up front: a chat-only client gets the benchmark's generative variant.
    method: Method = "generate_until"
    first_doc = None
    if total and getattr(benchmark, "request_type", None) is None:
        # No declared request type: the first doc's requests tell (built without few-shot).
        first_doc = all_docs[0] if prepared else benchmark.build(all_docs[0], 0, [])
    if _uses_loglikelihood(benchmark, first_doc):
        method = "loglikelihood"
        if not client.capabilities.supports_logprobs:
            make_fallback = getattr(benchmark, "generative_fallback", None)
            if prepared or (fallback is None and make_fallback is None):
                raise CapabilityError(
                    f"benchmark {benchmark_name(benchmark)!r} needs log-likelihoods, which "
                    f"{client.endpoint} does not provide, and no generative fallback was given"
                )
            if fallback is None:
                assert make_fallback is not None
                fallback = make_fallback()
            benchmark = fallback
            method = "generative_letter"
    name = benchmark_name(benchmark)

    completed = dict(await sink.completed(name))
    resumed_ids = {i for i in completed if 0 <= i < total}
    per_doc: dict[int, dict[str, float]] = {i: dict(completed[i].scores) for i in resumed_ids}
    sums: dict[str, float] = {}
    for scores in per_doc.values():
        for k, v in scores.items():
            sums[k] = sums.get(k, 0.0) + float(v)

    writer = _Writer(sink, name, total, len(resumed_ids), progress, max(1, flush_every), sums)
    workers_n = max(1, concurrency or client.capabilities.max_concurrency)
    queue: asyncio.Queue[tuple[int, PreparedDocLike] | None] = asyncio.Queue(maxsize=2 * workers_n)
    latencies: list[float] = []
    timing = RunTiming()
    failed: list[int] = []
    doc_budget = FailureBudget(client.endpoint)
    state: dict[str, BaseException | None] = {"fatal": None}
    abort = asyncio.Event()
    last_error: list[str] = []

    def fewshot_for(doc_id: int, doc: Any) -> list[Any]:
        if fewshot is not None:
            return list(fewshot(doc_id, doc))
        if num_fewshot > 0 and source is not None:
            provider = getattr(benchmark, "fewshot_docs", None)
            if provider is not None:
                return list(provider(source, num_fewshot, doc_id, doc))
        return []

    async def produce() -> None:
        for doc_id in range(total):
            if doc_id in resumed_ids:
                continue  # exactly-once: a doc in the ledger is never sent again
            doc = all_docs[doc_id]
            item: PreparedDocLike = (
                doc if prepared else benchmark.build(doc, doc_id, fewshot_for(doc_id, doc))
            )
            await queue.put((doc_id, item))
        for _ in range(workers_n):
            await queue.put(None)

    async def timed(coro: Any) -> Any:
        t0 = time.perf_counter()
        result = await coro
        latencies.append((time.perf_counter() - t0) * 1000.0)
        return result

    async def answer(item: PreparedDocLike) -> list[Response]:
        reqs = list(item.requests)
        out: list[Response | None] = [None] * len(reqs)
        ll_idx = [i for i, r in enumerate(reqs) if isinstance(r, LoglikelihoodRequest)]
        calls: list[Any] = []
        if ll_idx:
            ll_reqs = [r for r in reqs if isinstance(r, LoglikelihoodRequest)]

            async def ll() -> None:
                # One call per doc: the client batches a doc's choices into one HTTP request.
                res = await timed(client.loglikelihood_many(ll_reqs))
                for i, r in zip(ll_idx, res, strict=True):
                    out[i] = r

            calls.append(ll())
        for i, r in enumerate(reqs):
            if isinstance(r, GenerateRequest):

                async def gen(i: int = i, r: GenerateRequest = r) -> None:
                    out[i] = await timed(client.generate(r))

                calls.append(gen())
        if len(calls) == 1:
            await calls[0]
        elif calls:
            try:
                async with asyncio.TaskGroup() as tg:
                    for c in calls:
                        tg.create_task(c)
            except BaseExceptionGroup as group:
                raise _most_severe(group) from None
        return [r for r in out if r is not None]

    async def work() -> None:
        while True:
            got = await queue.get()
            if got is None:
                return
            doc_id, item = got
            t0 = time.perf_counter()
            try:
                responses = await answer(item)
            except ModelRequestError as exc:
                if exc.fatal:
                    raise
                failed.append(doc_id)
                last_error[:] = [str(exc)]
                doc_budget.failure(str(exc))
                doc_budget.check()
                continue
            doc_budget.success()
            if getattr(benchmark, "score_blocks", False):
                # Scoring that runs programs (HumanEval in the sandbox) must not stall the event loop.
                raw = await asyncio.to_thread(benchmark.score, item, responses)
            else:
                raw = benchmark.score(item, responses)
            scores = {k: float(v) for k, v in raw.items()}
            per_doc[doc_id] = scores
            render = getattr(benchmark, "render_response", None)
            p_tok = sum(getattr(r, "prompt_tokens", 0) for r in responses)
            c_tok = sum(r.completion_tokens for r in responses if isinstance(r, GenerateResponse))
            timing.prompt_tokens += p_tok
            timing.completion_tokens += c_tok
            extra: dict[str, Any] = {"method": method}
            lls = [r for r in responses if isinstance(r, LoglikelihoodResponse)]
            if lls:
                extra["logprobs"] = [r.logprob for r in lls]
                extra["is_greedy"] = [r.is_greedy for r in lls]
            await writer.add(
                ScoredSample(
                    benchmark=name,
                    doc_id=doc_id,
                    request_hash=request_hash(list(item.requests)),
                    prompt=item.prompt,
                    response=str(render(item, responses)) if render is not None else _render(item, responses),
                    target=item.target,
                    scores=scores,
                    latency_ms=(time.perf_counter() - t0) * 1000.0,
                    prompt_tokens=p_tok,
                    completion_tokens=c_tok,
                    extra=extra,
                )
            )

    async def guarded(coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # First failure wins; it stops everything (the caller sees it after cleanup).
            if state["fatal"] is None:
                state["fatal"] = exc
            abort.set()

    await writer.report()
    tasks = [asyncio.create_task(guarded(produce()))]
    tasks += [asyncio.create_task(guarded(work())) for _ in range(workers_n)]
    flusher = asyncio.create_task(writer.run_periodic(flush_interval))
    watchers: list[asyncio.Future[Any]] = [asyncio.create_task(abort.wait())]
    if cancel is not None:
        watchers.append(asyncio.create_task(cancel.wait()))
    all_work: asyncio.Future[Any] = asyncio.gather(*tasks)
    try:
        await asyncio.wait([all_work, *watchers], return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Cancelling a worker cancels its in-flight HTTP request at once (the HTTP client drops the socket).
        for t in [*tasks, *watchers]:
            t.cancel()
        await asyncio.gather(all_work, *watchers, return_exceptions=True)
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)
        # Scored samples are valid whatever stopped us: persist them so a resume skips them.
        await writer.flush()

    if state["fatal"] is not None:
        raise state["fatal"]

    cancelled = cancel is not None and cancel.is_set() and len(per_doc) < total - len(failed)
    ordered = [per_doc[i] for i in sorted(per_doc)]
    metrics = {k: float(v) for k, v in benchmark.aggregate(ordered).items()} if ordered else {}
    wall = time.perf_counter() - started
    latencies.sort()
    timing.wall_seconds = wall
    scored_now = len(per_doc) - len(resumed_ids)
    timing.samples_per_second = scored_now / wall if wall > 0 else 0.0
    timing.requests = len(latencies)
    guard = client.guard if isinstance(client, _HasGuard) else None
    timing.retries = int(getattr(getattr(guard, "stats", None), "retries", 0))
    timing.latency_ms_p50 = percentile(latencies, 50)
    timing.latency_ms_p95 = percentile(latencies, 95)
    timing.latency_ms_p99 = percentile(latencies, 99)
    return BenchmarkRunResult(
        benchmark=name,
        method=method,
        status="cancelled" if cancelled else "completed",
        metrics=metrics,
        num_docs=total,
        num_scored=scored_now,
        num_resumed=len(resumed_ids),
        num_failed=len(failed),
        timing=timing,
        failed_doc_ids=sorted(failed)[:1000],
        last_error=last_error[0] if last_error else None,
    )


def _most_severe(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """Pick the exception that should decide the doc's (or run's) fate from a TaskGroup failure."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup[BaseException]) -> None:
        for e in g.exceptions:
            if isinstance(e, BaseExceptionGroup):
                walk(e)
            else:
                leaves.append(e)

    walk(group)
    for kind in (FailureBudgetExceeded, CapabilityError):
        for e in leaves:
            if isinstance(e, kind):
                return e
    for e in leaves:
        if isinstance(e, ModelRequestError) and e.fatal:
            return e
    for e in leaves:
        if not isinstance(e, ModelRequestError):
            return e
    return leaves[0]
