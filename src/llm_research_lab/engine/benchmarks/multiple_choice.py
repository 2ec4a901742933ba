"""Multiple-choice benchmarks, scored by log-likelihood as lm-evaluation-harness 0.4.x does.

Prompt assembly mirrors ``ConfigurableTask.fewshot_context``: ``description`` + for each shot
``doc_to_text(shot) + " " + choices[gold] + "\\n\\n"`` + ``doc_to_text(doc)``, and one request per
choice with continuation ``" " + choice``. Subclasses supply the doc_to_* hooks, the splits and
the sampler.

On chat-only endpoints (no prompt log-probabilities) the same benchmark can run with
``method="generative_letter"``: options are listed as "A. ...", the model is asked for the letter and
the first standalone option letter of its answer is compared with the gold letter (metric ``acc``).
Those numbers are not comparable to log-likelihood accuracy, which is why the method travels with
every prepared document and result.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Literal

from llm_research_lab.engine.benchmarks.base import (
    BenchmarkError,
    DataSource,
    Doc,
    Method,
    PreparedDoc,
    RandomFewshotSampler,
    aggregate_scores,
)
from llm_research_lab.engine.metrics.choice import multiple_choice_scores
from llm_research_lab.engine.metrics.text import extract_letter
from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
    RequestType,
    Response,
)

LETTERS = string.ascii_uppercase
LETTER_INSTRUCTION = "Answer with the letter of the correct option."
# Enough for "B", "(B)", "The answer is B." and a little preamble from chatty models.
LETTER_MAX_TOKENS = 32

Sampler = Literal["default", "first_n"]


class MultipleChoiceBenchmark:
    """Base class: set the class attributes and override the doc_to_* hooks."""

    id: str = ""
    default_num_fewshot: int = 0
    loglikelihood_metrics: tuple[str, ...] = ("acc", "acc_norm")
    eval_split: str = "test"
    #: Where lm-eval draws few-shot examples from; None means the benchmark has no few-shot pool.
    fewshot_split: str | None = "train"
    #: Used when `fewshot_split` is not in the data (documented divergence from lm-eval).
    fewshot_fallback_split: str | None = None
    sampler: Sampler = "default"
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"

    def __init__(self, method: Method = "loglikelihood") -> None:
        if method not in ("loglikelihood", "generative_letter"):
            raise BenchmarkError(f"{self.id}: unsupported method {method!r} for a multiple-choice benchmark")
        self.method: Method = method
        self.request_type = (
            RequestType.LOGLIKELIHOOD if method == "loglikelihood" else RequestType.GENERATE_UNTIL
        )
        self.metrics: tuple[str, ...] = self.loglikelihood_metrics if method == "loglikelihood" else ("acc",)
        # Keyed by id(source), holding the source too so the id cannot be reused while cached.
        self._docs_cache: dict[int, tuple[DataSource, list[Doc]]] = {}
        self._samplers: dict[int, tuple[DataSource, RandomFewshotSampler]] = {}

    # -- hooks -----------------------------------------------------------------------------------

    def process_docs(self, rows: Sequence[Doc]) -> list[Doc]:
        return list(rows)

    def description(self, doc: Doc) -> str:
        return ""

    def doc_to_text(self, doc: Doc) -> str:
        raise NotImplementedError

    def doc_to_choices(self, doc: Doc) -> list[str]:
        raise NotImplementedError

    def doc_to_target(self, doc: Doc) -> int:
        raise NotImplementedError

    def letter_question(self, doc: Doc) -> str:
        """The question shown above the lettered options in the generative-letter format."""
        return self.doc_to_text(doc)

    def letter_choices(self, doc: Doc) -> list[str]:
        return self.doc_to_choices(doc)

    # -- data ------------------------------------------------------------------------------------

    def docs(self, source: DataSource) -> Sequence[Doc]:
        cached = self._docs_cache.get(id(source))
        if cached is None:
            cached = (source, self.process_docs(source.rows(self.eval_split)))
            self._docs_cache[id(source)] = cached
        return cached[1]

    def fewshot_pool(self, source: DataSource, doc: Doc) -> tuple[Sequence[Doc], bool]:
        """(pool, exclude_eval_doc). lm-eval removes the evaluated doc only if the pool is its split."""
        for split in (self.fewshot_split, self.fewshot_fallback_split):
            if split is not None and source.has_split(split):
                return self.process_docs(source.rows(split)), split == self.eval_split
        raise BenchmarkError(
            f"{self.id}: few-shot examples need the {self.fewshot_split!r} split, which the data lacks"
        )

    def fewshot_docs(self, source: DataSource, num_fewshot: int, doc_id: int, doc: Doc) -> Sequence[Doc]:
        if num_fewshot <= 0:
            return []
        if self.sampler == "first_n":
            pool, _ = self.fewshot_pool(source, doc)
            if num_fewshot > len(pool):
                raise BenchmarkError(f"{self.id}: {num_fewshot} shots requested, {len(pool)} available")
            return list(pool[:num_fewshot])
        entry = self._samplers.get(id(source))
        if entry is None:
            pool, exclude = self.fewshot_pool(source, doc)
            entry = (source, RandomFewshotSampler(pool, self.docs(source), exclude_eval_doc=exclude))
            self._samplers[id(source)] = entry
        return entry[1].sample(num_fewshot, doc_id)

    # -- prompts ---------------------------------------------------------------------------------

    def fewshot_example(self, shot: Doc) -> str:
        choices = self.doc_to_choices(shot)
        return (
            self.doc_to_text(shot)
            + self.target_delimiter
            + choices[self.doc_to_target(shot)]
            + self.fewshot_delimiter
        )

    def context(self, doc: Doc, fewshot: Sequence[Doc]) -> str:
        return (
            self.description(doc) + "".join(self.fewshot_example(s) for s in fewshot) + self.doc_to_text(doc)
        )

    def build(self, doc: Doc, doc_id: int, fewshot: Sequence[Doc]) -> PreparedDoc:
        if self.method == "generative_letter":
            return self._build_letter(doc, doc_id, fewshot)
        choices = self.doc_to_choices(doc)
        gold = self.doc_to_target(doc)
        ctx = self.context(doc, fewshot)
        requests = tuple(LoglikelihoodRequest(ctx, self.target_delimiter + c) for c in choices)
        return PreparedDoc(doc_id, requests, ctx, choices[gold], "loglikelihood", tuple(choices), gold, doc)

    def _letter_block(self, doc: Doc) -> tuple[str, list[str]]:
        options = self.letter_choices(doc)
        if len(options) > len(LETTERS):
            raise BenchmarkError(f"{self.id}: {len(options)} options cannot be lettered")
        letters = list(LETTERS[: len(options)])
        lines = [self.letter_question(doc)] + [f"{k}. {o}" for k, o in zip(letters, options, strict=True)]
        return "\n".join(lines), letters

    def _build_letter(self, doc: Doc, doc_id: int, fewshot: Sequence[Doc]) -> PreparedDoc:
        parts = [LETTER_INSTRUCTION + "\n\n"]
        for shot in fewshot:
            block, letters = self._letter_block(shot)
            parts.append(f"{block}\nAnswer: {letters[self.doc_to_target(shot)]}\n\n")
        block, letters = self._letter_block(doc)
        parts.append(f"{block}\nAnswer:")
        ctx = "".join(parts)
        gold = self.doc_to_target(doc)
        request = GenerateRequest(ctx, until=(), max_gen_toks=LETTER_MAX_TOKENS, temperature=0.0)
        return PreparedDoc(
            doc_id, (request,), ctx, letters[gold], "generative_letter", tuple(letters), gold, doc
        )

    # -- scoring ---------------------------------------------------------------------------------

    def score(self, prepared: PreparedDoc, responses: Sequence[Response]) -> dict[str, float]:
        if prepared.gold is None:
            raise BenchmarkError(f"{self.id}: prepared document {prepared.doc_id} has no gold index")
        if prepared.method == "generative_letter":
            (resp,) = responses
            if not isinstance(resp, GenerateResponse):
                raise BenchmarkError(f"{self.id}: expected a generated answer")
            letter = extract_letter(resp.text, prepared.choices)
            return {"acc": float(letter == prepared.choices[prepared.gold])}
        lls = _loglikelihoods(self.id, responses, len(prepared.choices))
        return self.score_loglikelihoods(prepared, lls)

    def score_loglikelihoods(self, prepared: PreparedDoc, lls: Sequence[float]) -> dict[str, float]:
        assert prepared.gold is not None
        scores = multiple_choice_scores(lls, prepared.choices, prepared.gold)
        return {k: v for k, v in scores.items() if k in self.metrics}

    def aggregate(self, per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
        return aggregate_scores(per_doc)


def _loglikelihoods(bench_id: str, responses: Sequence[Response], expected: int) -> list[float]:
    if len(responses) != expected:
        raise BenchmarkError(f"{bench_id}: {len(responses)} responses for {expected} requests")
    out: list[float] = []
    for r in responses:
        if not isinstance(r, LoglikelihoodResponse):
            raise BenchmarkError(f"{bench_id}: expected log-likelihood responses")
        out.append(r.logprob)
    return out
