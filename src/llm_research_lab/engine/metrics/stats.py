"""Aggregation and statistics: mean + standard error, bootstrap intervals, paired comparisons.

Every mean metric gets a standard error computed as lm-evaluation-harness does (sample standard
deviation with n-1 over sqrt(n)), so our numbers and theirs are comparable. Metrics that are not a mean
of per-sample scores (corpus BLEU, medians) get a percentile bootstrap interval instead. Two runs on the
same samples are compared with paired tests, which are far more sensitive than comparing two
independent means: McNemar's exact test for binary scores, a paired bootstrap for continuous ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")

DEFAULT_SEED = 1234


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of an empty sequence")
    return math.fsum(values) / len(values)


def sample_stddev(values: Sequence[float]) -> float:
    """Standard deviation with Bessel's correction (n-1), as lm-eval's ``sample_stddev``."""
    n = len(values)
    if n < 2:
        raise ValueError("sample standard deviation needs at least 2 values")
    mu = mean(values)
    return math.sqrt(math.fsum((x - mu) ** 2 for x in values) / (n - 1))


def mean_stderr(values: Sequence[float]) -> float:
    """Standard error of the mean: sample_stddev / sqrt(n) (lm-eval's ``mean_stderr``)."""
    return sample_stddev(values) / math.sqrt(len(values))


def aggregate_mean(per_doc: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of every metric over documents plus ``<metric>_stderr``.

    A metric missing from some documents is averaged over the documents that have it. The stderr is
    omitted (not NaN) below two samples, because NaN does not survive JSON.
    """
    names: list[str] = []
    for scores in per_doc:
        for key in scores:
            if key not in names:
                names.append(key)
    out: dict[str, float] = {}
    for key in names:
        values = [float(scores[key]) for scores in per_doc if key in scores]
        out[key] = mean(values)
        if len(values) >= 2:
            out[f"{key}_stderr"] = mean_stderr(values)
    return out


@dataclass(frozen=True, slots=True)
class ConfidenceInterval:
    estimate: float
    low: float
    high: float
    confidence: float


def bootstrap_ci(
    items: Sequence[T],
    statistic: Callable[[Sequence[T]], float],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = DEFAULT_SEED,
) -> ConfidenceInterval:
    """Percentile bootstrap interval for any statistic of `items` (e.g. corpus BLEU, a median).

    Seeded, so the same run always reports the same interval.
    """
    if not items:
        raise ValueError("bootstrap of an empty sequence")
    rng = np.random.default_rng(seed)
    n = len(items)
    stats = np.empty(n_resamples, dtype=float)
    for i in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        stats[i] = statistic([items[j] for j in idx])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return ConfidenceInterval(float(statistic(items)), float(low), float(high), confidence)


@dataclass(frozen=True, slots=True)
class McNemarResult:
    """Discordant counts: `b` = A right and B wrong, `c` = A wrong and B right."""

    n: int
    b: int
    c: int
    p_value: float
    difference: float  # mean(A) - mean(B)


def mcnemar_exact(a: Sequence[float], b: Sequence[float]) -> McNemarResult:
    """Exact (binomial) McNemar test for two binary score vectors over the same samples.

    Two-sided p = min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 1/2); exact rather than the
    chi-square approximation because discordant counts are small on short runs.
    """
    _check_paired(a, b)
    for v in (*a, *b):
        if v not in (0.0, 1.0):
            raise ValueError("McNemar's test needs binary (0/1) scores; use paired_bootstrap")
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x == 1.0 and y == 0.0)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if x == 0.0 and y == 1.0)
    m = only_a + only_b
    if m == 0:
        p = 1.0
    else:
        k = min(only_a, only_b)
        tail = math.fsum(math.comb(m, i) for i in range(k + 1)) / 2.0**m
        p = min(1.0, 2.0 * tail)
    return McNemarResult(len(a), only_a, only_b, p, (only_a - only_b) / len(a))


@dataclass(frozen=True, slots=True)
class PairedBootstrapResult:
    difference: float  # mean(A) - mean(B)
    low: float
    high: float
    p_value: float
    confidence: float


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    n_resamples: int = 10000,
    confidence: float = 0.95,
    seed: int = DEFAULT_SEED,
) -> PairedBootstrapResult:
    """Paired bootstrap of mean(A) - mean(B): resample sample indices, keep pairs together.

    The two-sided p-value is twice the share of resampled differences on the far side of zero
    (bounded by 1), the usual percentile-bootstrap test.
    """
    _check_paired(a, b)
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    n = len(diffs)
    idx = rng.integers(0, n, size=(n_resamples, n))
    means = diffs[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    observed = float(diffs.mean())
    if observed == 0.0 and not means.any():
        p = 1.0
    else:
        p = float(min(1.0, 2.0 * min((means <= 0).mean(), (means >= 0).mean())))
    return PairedBootstrapResult(observed, float(low), float(high), p, confidence)


def _check_paired(a: Sequence[float], b: Sequence[float]) -> None:
    if len(a) != len(b):
        raise ValueError(f"paired tests need the same samples (got {len(a)} and {len(b)})")
    if not a:
        raise ValueError("paired tests need at least one sample")
