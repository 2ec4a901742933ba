"""The benchmark protocol and the pieces every native benchmark shares.

A benchmark turns rows of a data source into requests and scores the answers:

    bench = create_benchmark("arc_easy")                       # engine.registry
    docs = bench.docs(source)                                  # eval split, deterministic order
    for doc_id, doc in enumerate(docs[:limit]):
        shots = bench.fewshot_docs(source, num_fewshot, doc_id, doc)
        prepared = bench.build(doc, doc_id, shots)             # requests + prompt + target
        responses = [await client.answer(r) for r in prepared.requests]
        scores = bench.score(prepared, responses)              # {"acc": 1.0, "acc_norm": 0.0}
    summary = bench.aggregate(all_scores)                      # means + "<metric>_stderr"

``prepare_docs`` does the first half of that loop. Few-shot examples depend only on the benchmark,
the data, `num_fewshot` and `doc_id` (never on which documents were evaluated before in this process),
so a resumed run rebuilds exactly the prompts it had.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from llm_research_lab.engine.metrics.stats import aggregate_mean
from llm_research_lab.engine.types import Request, RequestType, Response, request_hash

Doc = Mapping[str, Any]

#: How a document is asked: log-likelihood of each option, free generation, or (chat-only endpoints)
#: a generated option letter. Results carry it so the two multiple-choice methods are never mixed up.
Method = Literal["loglikelihood", "generate_until", "generative_letter"]

FEWSHOT_SEED = 1234  # lm-eval's default fewshot_random_seed


class BenchmarkError(ValueError):
    """A benchmark cannot do what was asked (a split is missing, a method is unsupported, ...)."""


@runtime_checkable
class DataSource(Protocol):
    """Rows of a benchmark's data by split name ("test", "validation", "train", "dev")."""

    def rows(self, split: str) -> Sequence[Doc]:
        """All rows of `split`, in file order; raises if the split does not exist."""
        ...

    def has_split(self, split: str) -> bool: ...


@dataclass(slots=True)
class InMemorySource:
    """A DataSource over rows already in memory (tests, custom datasets, registered versions)."""

    splits: dict[str, list[Doc]]

    def rows(self, split: str) -> Sequence[Doc]:
        try:
            return self.splits[split]
        except KeyError:
            raise BenchmarkError(f"no {split!r} split (have {sorted(self.splits)})") from None

    def has_split(self, split: str) -> bool:
        return split in self.splits

    def __hash__(self) -> int:  # benchmarks cache per source object
        return id(self)


@dataclass(frozen=True, slots=True)
class PreparedDoc:
    """One document made ready for a model: its requests, and what the ledger shows of it.

    `prompt` is the full context of the first request (what a human wants to read); `target` the gold
    answer as text; `choices` and `gold` are set for multiple-choice documents.
    """

    doc_id: int
    requests: tuple[Request, ...]
    prompt: str
    target: str
    method: Method
    choices: tuple[str, ...] = ()
    gold: int | None = None
    doc: Doc = field(default_factory=dict)

    @property
    def request_hash(self) -> str:
        return request_hash(self.requests)


class Benchmark(Protocol):
    """What the runner needs from a benchmark (see the module docstring for the call order)."""

    id: str
    request_type: RequestType
    default_num_fewshot: int
    metrics: tuple[str, ...]
    method: Method

    def docs(self, source: DataSource) -> Sequence[Doc]:
        """The evaluation split, processed, in a deterministic order."""
        ...

    def fewshot_docs(self, source: DataSource, num_fewshot: int, doc_id: int, doc: Doc) -> Sequence[Doc]:
        """The few-shot examples for document `doc_id`, as lm-evaluation-harness would pick them."""
        ...

    def build(self, doc: Doc, doc_id: int, fewshot: Sequence[Doc]) -> PreparedDoc:
        """Requests, prompt text and target text for one document."""
        ...

    def score(self, prepared: PreparedDoc, responses: Sequence[Response]) -> dict[str, float]:
        """Scores of one document; `responses` align with `prepared.requests`."""
        ...

    def aggregate(self, per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
        """Benchmark-level metrics: means plus ``<metric>_stderr``."""
        ...


def prepare_docs(
    bench: Benchmark, source: DataSource, *, num_fewshot: int | None = None, limit: int | None = None
) -> Iterator[PreparedDoc]:
    """Build the first `limit` documents with `num_fewshot` shots (default: the benchmark's)."""
    shots = bench.default_num_fewshot if num_fewshot is None else num_fewshot
    docs = bench.docs(source)
    count = len(docs) if limit is None else min(limit, len(docs))
    for doc_id in range(count):
        doc = docs[doc_id]
        yield bench.build(doc, doc_id, bench.fewshot_docs(source, shots, doc_id, doc))


class RandomFewshotSampler:
    """lm-eval's ``default`` ContextSampler, replayed so any document's shots can be asked for directly.

    lm-eval seeds one ``random.Random(1234)`` per task and calls ``rnd.sample(pool, k)`` once per
    evaluated document in order, so document i's shots depend on the i calls before it. We record that
    sequence once (O(n)) and index into it. With `exclude_eval_doc` (lm-eval does this when the
    few-shot pool is the evaluation split) it draws k+1 and drops the evaluated document, re-drawing
    from the pool without it in the rare case duplicates leave fewer than k.
    """

    def __init__(
        self,
        pool: Sequence[Doc],
        eval_docs: Sequence[Doc],
        *,
        exclude_eval_doc: bool,
        seed: int = FEWSHOT_SEED,
    ) -> None:
        self.pool = list(pool)
        self.eval_docs = eval_docs
        self.exclude_eval_doc = exclude_eval_doc
        self.seed = seed
        self._sequences: dict[int, tuple[random.Random, list[list[Doc]]]] = {}

    def sample(self, k: int, doc_id: int) -> list[Doc]:
        if k <= 0:
            return []
        needed = k + 1 if self.exclude_eval_doc else k
        if needed > len(self.pool):
            raise BenchmarkError(f"{k} few-shot examples requested but the pool has {len(self.pool)}")
        rnd, seq = self._sequences.setdefault(k, (random.Random(self.seed), []))
        while len(seq) <= doc_id:
            i = len(seq)
            if not self.exclude_eval_doc:
                seq.append(rnd.sample(self.pool, k))
                continue
            eval_doc = self.eval_docs[i] if i < len(self.eval_docs) else None
            drawn = [x for x in rnd.sample(self.pool, k + 1) if x != eval_doc][:k]
            if len(drawn) < k:
                drawn = rnd.sample([x for x in self.pool if x != eval_doc], k)
            seq.append(drawn)
        return list(seq[doc_id])


def aggregate_scores(per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The default aggregation: mean and standard error of every metric."""
    return aggregate_mean(per_doc)
