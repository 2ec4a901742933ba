"""Scores computed from log-likelihoods: multiple-choice accuracy, TruthfulQA MC1/MC2, pass@k.

These follow lm-evaluation-harness 0.4.x (``ConfigurableTask.process_results`` and
``truthfulqa/utils.py``): `acc` is the argmax of the raw log-likelihoods, `acc_norm` the argmax of
log-likelihood divided by the choice's length in *characters* (not bytes, not tokens; lm-eval calls
the byte variant ``acc_bytes``). Ties go to the first choice, as with ``numpy.argmax``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def argmax(values: Sequence[float]) -> int:
    """Index of the largest value; the first one on ties (numpy.argmax semantics)."""
    if not values:
        raise ValueError("argmax of an empty sequence")
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def mc_predictions(loglikelihoods: Sequence[float], choices: Sequence[str]) -> tuple[int, int]:
    """(pred, pred_norm): argmax of log-likelihoods, and of log-likelihood per character of choice."""
    if len(loglikelihoods) != len(choices):
        raise ValueError(f"{len(loglikelihoods)} log-likelihoods for {len(choices)} choices")
    pred = argmax(loglikelihoods)
    # len() of the choice text without the target delimiter, exactly what lm-eval divides by.
    normed = [ll / float(len(c)) if c else -math.inf for ll, c in zip(loglikelihoods, choices, strict=True)]
    return pred, argmax(normed)


def multiple_choice_scores(
    loglikelihoods: Sequence[float], choices: Sequence[str], gold: int
) -> dict[str, float]:
    """{"acc", "acc_norm"} for one document."""
    pred, pred_norm = mc_predictions(loglikelihoods, choices)
    return {"acc": float(pred == gold), "acc_norm": float(pred_norm == gold)}


def mc1(loglikelihoods: Sequence[float], gold: int = 0) -> float:
    """TruthfulQA MC1: 1 if the single true answer (index `gold`, 0 in the dataset) scores highest."""
    return float(argmax(loglikelihoods) == gold)


def mc2(loglikelihoods: Sequence[float], labels: Sequence[int]) -> float:
    """TruthfulQA MC2: normalised probability mass on the true answers.

    p_i = exp(ll_i) / sum_j exp(ll_j); score = sum of p_i with label 1. Computed with the max
    subtracted first (same value as lm-eval's plain exp, without underflow on long answers).
    """
    if len(loglikelihoods) != len(labels):
        raise ValueError("one label per log-likelihood is needed")
    top = max(loglikelihoods)
    weights = [math.exp(ll - top) for ll in loglikelihoods]
    total = math.fsum(weights)
    return math.fsum(w for w, label in zip(weights, labels, strict=True) if label == 1) / total


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k) for n samples with c correct.

    Evaluated as a running product so large n does not overflow.
    """
    if not 0 <= c <= n:
        raise ValueError("need 0 <= c <= n")
    if not 1 <= k <= n:
        raise ValueError("need 1 <= k <= n")
    if n - c < k:
        return 1.0
    prob_all_fail = 1.0
    for i in range(n - c + 1, n + 1):
        prob_all_fail *= 1.0 - k / i
    return 1.0 - prob_all_fail
