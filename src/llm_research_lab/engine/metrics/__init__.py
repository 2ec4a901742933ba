"""Metrics: scorers, aggregation, standard errors, bootstrap intervals and paired comparisons.

Sample-level text metrics are registered in ``engine.registry.METRICS`` under the names a custom
dataset configuration uses: ``exact_match`` (alias ``accuracy``), ``f1``, ``bleu``, ``rouge1``,
``rouge2``, ``rougeL``. Each takes ``(prediction, references)`` and returns the best score over the
references.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_research_lab.engine.metrics.choice import (
    argmax,
    mc1,
    mc2,
    mc_predictions,
    multiple_choice_scores,
    pass_at_k,
)
from llm_research_lab.engine.metrics.perf import (
    Pricing,
    cost,
    latency_percentiles,
    run_summary,
    tokens_per_second,
)
from llm_research_lab.engine.metrics.stats import (
    ConfidenceInterval,
    McNemarResult,
    PairedBootstrapResult,
    aggregate_mean,
    bootstrap_ci,
    mcnemar_exact,
    mean,
    mean_stderr,
    paired_bootstrap,
    sample_stddev,
)
from llm_research_lab.engine.metrics.text import (
    INVALID,
    corpus_bleu,
    exact_match,
    extract_letter,
    max_over_references,
    normalize_answer,
    regex_extract,
    rouge,
    sentence_bleu,
    token_f1,
)
from llm_research_lab.engine.registry import metric

__all__ = [
    "INVALID",
    "ConfidenceInterval",
    "McNemarResult",
    "PairedBootstrapResult",
    "Pricing",
    "aggregate_mean",
    "argmax",
    "bootstrap_ci",
    "corpus_bleu",
    "cost",
    "exact_match",
    "extract_letter",
    "latency_percentiles",
    "max_over_references",
    "mc1",
    "mc2",
    "mc_predictions",
    "mcnemar_exact",
    "mean",
    "mean_stderr",
    "multiple_choice_scores",
    "normalize_answer",
    "paired_bootstrap",
    "pass_at_k",
    "regex_extract",
    "rouge",
    "run_summary",
    "sample_stddev",
    "sentence_bleu",
    "token_f1",
    "tokens_per_second",
]


@metric("exact_match")
def _exact_match(prediction: str, references: Sequence[str]) -> float:
    # Surrounding whitespace is never meaningful in a generated answer; case and punctuation are.
    return max_over_references(exact_match, prediction.strip(), [r.strip() for r in references])


@metric("accuracy")
def _accuracy(prediction: str, references: Sequence[str]) -> float:
    return _exact_match(prediction, references)


@metric("f1")
def _f1(prediction: str, references: Sequence[str]) -> float:
    return max_over_references(token_f1, prediction, references)


@metric("bleu")
def _bleu(prediction: str, references: Sequence[str]) -> float:
    return sentence_bleu(prediction, references)


def _rouge_metric(kind: str) -> None:
    def fn(prediction: str, references: Sequence[str]) -> float:
        return max(rouge(prediction, ref)[kind] for ref in references)

    metric(kind)(fn)


for _kind in ("rouge1", "rouge2", "rougeL"):
    _rouge_metric(_kind)
