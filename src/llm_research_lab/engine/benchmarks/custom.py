"""Custom dataset benchmark for Research Lab experiments.

Each dataset row is rendered through a Jinja2 prompt template in a *sandboxed* environment (templates
come from users, so they must not reach Python internals), sent as a generation request, and the
answer is scored against the row's ``answer`` (or ``target``, or a configured field) by the metrics
registered in ``engine.registry.METRICS``: ``exact_match``/``accuracy``, ``f1``, ``bleu``, ``rouge1``,
``rouge2``, ``rougeL``. A list-valued target counts as several acceptable references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from llm_research_lab.engine.benchmarks.base import (
    BenchmarkError,
    DataSource,
    Doc,
    Method,
    PreparedDoc,
    aggregate_scores,
)
from llm_research_lab.engine.registry import METRICS
from llm_research_lab.engine.types import GenerateRequest, GenerateResponse, RequestType, Response

TARGET_FIELDS = ("answer", "target")

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


@dataclass(frozen=True, slots=True)
class CustomDatasetSpec:
    """What a Research Lab experiment configures for one dataset x prompt template."""

    id: str
    template: str
    metrics: tuple[str, ...] = ("exact_match",)
    target_field: str | None = None  # None: "answer", else "target"
    split: str = "test"
    system: str | None = None
    until: tuple[str, ...] = ()
    max_gen_toks: int = 256
    temperature: float = 0.0
    extra_vars: Mapping[str, object] = field(default_factory=dict)


def render_template(template: str, variables: Mapping[str, object]) -> str:
    """Render a user template in the sandbox; unknown variables are an error, not blank text."""
    try:
        return _ENV.from_string(template).render(**variables)
    except jinja2.TemplateError as exc:
        raise BenchmarkError(f"prompt template failed: {exc}") from exc


class CustomDatasetBenchmark:
    request_type = RequestType.GENERATE_UNTIL
    default_num_fewshot = 0

    def __init__(self, spec: CustomDatasetSpec) -> None:
        unknown = [m for m in spec.metrics if m not in METRICS]
        if unknown:
            # Resolve through the registry to get its "did you mean" error.
            METRICS[unknown[0]]
        try:
            _ENV.parse(spec.template)
        except jinja2.TemplateSyntaxError as exc:
            raise BenchmarkError(f"prompt template is invalid: {exc}") from exc
        self.spec = spec
        self.id = spec.id
        self.metrics: tuple[str, ...] = spec.metrics
        self.method: Method = "generate_until"

    def docs(self, source: DataSource) -> Sequence[Doc]:
        return source.rows(self.spec.split)

    def fewshot_docs(self, source: DataSource, num_fewshot: int, doc_id: int, doc: Doc) -> Sequence[Doc]:
        if num_fewshot > 0:
            raise BenchmarkError("custom datasets put examples in the prompt template instead of few-shot")
        return []

    def target(self, doc: Doc) -> list[str]:
        fields = (self.spec.target_field,) if self.spec.target_field else TARGET_FIELDS
        for name in fields:
            if name in doc:
                value = doc[name]
                return [str(v) for v in value] if isinstance(value, list) else [str(value)]
        raise BenchmarkError(f"{self.id}: row has none of the target fields {list(fields)}")

    def build(self, doc: Doc, doc_id: int, fewshot: Sequence[Doc]) -> PreparedDoc:
        prompt = render_template(self.spec.template, {**self.spec.extra_vars, **doc})
        messages = ((("system", self.spec.system), ("user", prompt))) if self.spec.system else None
        request = GenerateRequest(
            prompt,
            until=self.spec.until,
            max_gen_toks=self.spec.max_gen_toks,
            temperature=self.spec.temperature,
            messages=messages,
        )
        refs = self.target(doc)
        return PreparedDoc(doc_id, (request,), prompt, refs[0], "generate_until", doc=doc)

    def score(self, prepared: PreparedDoc, responses: Sequence[Response]) -> dict[str, float]:
        (resp,) = responses
        if not isinstance(resp, GenerateResponse):
            raise BenchmarkError(f"{self.id}: expected a generated answer")
        refs = self.target(prepared.doc)
        return {name: METRICS[name](resp.text, refs) for name in self.metrics}

    def aggregate(self, per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
        return aggregate_scores(per_doc)
