"""Standard error, bootstrap intervals, McNemar, paired bootstrap and serving metrics."""

from __future__ import annotations

import math
import statistics

import pytest

from llm_research_lab.engine.metrics import (
    Pricing,
    aggregate_mean,
    bootstrap_ci,
    cost,
    latency_percentiles,
    mcnemar_exact,
    mean_stderr,
    paired_bootstrap,
    run_summary,
    tokens_per_second,
)


def test_mean_stderr_is_sample_stdev_over_sqrt_n() -> None:
    values = [1.0, 0.0, 1.0, 1.0]  # mean 0.75, sample variance 0.25 -> stdev 0.5 -> stderr 0.25
    assert mean_stderr(values) == pytest.approx(0.25)
    assert mean_stderr(values) == pytest.approx(statistics.stdev(values) / math.sqrt(4))


def test_aggregate_mean_adds_stderr_and_skips_it_for_one_sample() -> None:
    out = aggregate_mean([{"acc": 1.0, "acc_norm": 0.0}, {"acc": 0.0, "acc_norm": 0.0}])
    assert out["acc"] == 0.5
    assert out["acc_stderr"] == pytest.approx(0.5)
    assert out["acc_norm_stderr"] == 0.0
    assert aggregate_mean([{"acc": 1.0}]) == {"acc": 1.0}


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded() -> None:
    data = [float(x) for x in range(100)]
    ci = bootstrap_ci(data, statistics.median, n_resamples=500)
    assert ci.estimate == 49.5
    assert ci.low < 49.5 < ci.high
    assert ci == bootstrap_ci(data, statistics.median, n_resamples=500)


def test_mcnemar_exact_hand_computed() -> None:
    # A right / B wrong on 6 samples, the reverse on 1: p = 2 * P(X <= 1), X ~ Bin(7, 1/2) = 2 * 8/128.
    a = [1.0] * 6 + [0.0] + [1.0] * 3
    b = [0.0] * 6 + [1.0] + [1.0] * 3
    result = mcnemar_exact(a, b)
    assert (result.b, result.c) == (6, 1)
    assert result.p_value == pytest.approx(16 / 128)
    assert result.difference == pytest.approx(0.5)
    assert mcnemar_exact([1.0, 0.0], [1.0, 0.0]).p_value == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact([0.5], [1.0])


def test_paired_bootstrap_detects_a_consistent_improvement() -> None:
    a = [0.8 + 0.01 * (i % 5) for i in range(50)]
    b = [x - 0.1 for x in a]
    result = paired_bootstrap(a, b, n_resamples=2000)
    assert result.difference == pytest.approx(0.1)
    assert result.low == pytest.approx(0.1) and result.high == pytest.approx(0.1)
    assert result.p_value == 0.0
    same = paired_bootstrap([0.1, 0.9, 0.5], [0.1, 0.9, 0.5])
    assert same.p_value == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 2.0])


def test_latency_percentiles_linear_interpolation() -> None:
    p = latency_percentiles([float(x) for x in range(1, 101)])  # 1..100
    assert p["p50"] == pytest.approx(50.5)
    assert p["p95"] == pytest.approx(95.05)
    assert p["p99"] == pytest.approx(99.01)
    assert latency_percentiles([]) == {}


def test_tokens_per_second_and_cost() -> None:
    assert tokens_per_second(500, 2.0) == 250.0
    assert tokens_per_second(5, 0.0) == 0.0
    pricing = {"input_per_million": 0.15, "output_per_million": 0.60}
    assert cost(1_000_000, 500_000, pricing) == pytest.approx(0.45)
    assert cost(2000, 1000, Pricing(3.0, 15.0)) == pytest.approx(0.021)
    assert cost(10, 10, None) == 0.0
    summary = run_summary([10.0, 20.0, 30.0], 100, 50, 2.0, pricing)
    assert summary["total_tokens"] == 150.0
    assert summary["tokens_per_second"] == 25.0
    assert summary["latency_p50_ms"] == 20.0
    assert summary["cost"] == pytest.approx((100 * 0.15 + 50 * 0.60) / 1e6)
