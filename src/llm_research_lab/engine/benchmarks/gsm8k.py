"""GSM8K, as lm_eval/tasks/gsm8k/gsm8k.yaml (version 3.0).

Prompt "Question: {question}\\nAnswer:", 5 shots from train each rendered with the full worked answer
("Question: ..\\nAnswer: <solution> #### 42\\n\\n"), greedy generation until "Question:", "</s>" or
"<|im_end|>". Two answer extractions, as lm-eval's filters:
- strict-match: the number after "#### " (``#### (\\-?[0-9\\.\\,]+)``), first match;
- flexible-extract: the last number-like span in the text (``(-?[$0-9.,]{2,})|(-?[0-9]+)``).
Each is compared with the target by exact_match (ignore_case; regexes ``,`` ``\\$`` ``(?s).*#### ``
``\\.$`` removed). lm-eval names them "exact_match,strict-match" and "exact_match,flexible-extract";
here they are ``exact_match_strict`` and ``exact_match_flexible``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llm_research_lab.engine.benchmarks.base import (
    BenchmarkError,
    DataSource,
    Doc,
    Method,
    PreparedDoc,
    RandomFewshotSampler,
    aggregate_scores,
)
from llm_research_lab.engine.metrics.text import exact_match, regex_extract
from llm_research_lab.engine.registry import benchmark
from llm_research_lab.engine.types import GenerateRequest, GenerateResponse, RequestType, Response

STRICT_PATTERN = r"#### (\-?[0-9\.\,]+)"
FLEXIBLE_PATTERN = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
REGEXES_TO_IGNORE = (",", "\\$", "(?s).*#### ", "\\.$")
UNTIL = ("Question:", "</s>", "<|im_end|>")
MAX_GEN_TOKS = 256  # lm-eval's default when the task sets none


def strict_extract(text: str) -> str:
    return regex_extract(text, STRICT_PATTERN, group_select=0)


def flexible_extract(text: str) -> str:
    return regex_extract(text, FLEXIBLE_PATTERN, group_select=-1)


def gsm8k_match(extracted: str, target: str) -> float:
    return exact_match(extracted, target, regexes_to_ignore=REGEXES_TO_IGNORE, ignore_case=True)


@benchmark("gsm8k")
class Gsm8k:
    id = "gsm8k"
    request_type = RequestType.GENERATE_UNTIL
    default_num_fewshot = 5
    metrics: tuple[str, ...] = ("exact_match_strict", "exact_match_flexible")
    eval_split = "test"
    fewshot_split = "train"

    def __init__(self, method: Method = "generate_until") -> None:
        if method != "generate_until":
            raise BenchmarkError("gsm8k is a generation benchmark")
        self.method: Method = method
        self._cache: dict[int, tuple[DataSource, list[Doc], RandomFewshotSampler | None]] = {}

    def _entry(self, source: DataSource) -> tuple[DataSource, list[Doc], RandomFewshotSampler | None]:
        entry = self._cache.get(id(source))
        if entry is None:
            entry = (source, list(source.rows(self.eval_split)), None)
            self._cache[id(source)] = entry
        return entry

    def docs(self, source: DataSource) -> Sequence[Doc]:
        return self._entry(source)[1]

    def fewshot_docs(self, source: DataSource, num_fewshot: int, doc_id: int, doc: Doc) -> Sequence[Doc]:
        if num_fewshot <= 0:
            return []
        src, docs, sampler = self._entry(source)
        if sampler is None:
            # fewshot_split (train) differs from test_split, so lm-eval does not exclude the doc.
            sampler = RandomFewshotSampler(source.rows(self.fewshot_split), docs, exclude_eval_doc=False)
            self._cache[id(source)] = (src, docs, sampler)
        return sampler.sample(num_fewshot, doc_id)

    def doc_to_text(self, doc: Doc) -> str:
        return f"Question: {doc['question']}\nAnswer:"

    def build(self, doc: Doc, doc_id: int, fewshot: Sequence[Doc]) -> PreparedDoc:
        shots = "".join(f"{self.doc_to_text(s)} {s['answer']}\n\n" for s in fewshot)
        ctx = shots + self.doc_to_text(doc)
        request = GenerateRequest(ctx, until=UNTIL, max_gen_toks=MAX_GEN_TOKS, temperature=0.0)
        return PreparedDoc(doc_id, (request,), ctx, str(doc["answer"]), "generate_until", doc=doc)

    def score(self, prepared: PreparedDoc, responses: Sequence[Response]) -> dict[str, float]:
        (resp,) = responses
        if not isinstance(resp, GenerateResponse):
            raise BenchmarkError("gsm8k: expected a generated answer")
        return {
            "exact_match_strict": gsm8k_match(strict_extract(resp.text), prepared.target),
            "exact_match_flexible": gsm8k_match(flexible_extract(resp.text), prepared.target),
        }

    def aggregate(self, per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
        return aggregate_scores(per_doc)
