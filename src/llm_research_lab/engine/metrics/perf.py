"""Serving metrics of a run: latency percentiles, throughput, token totals and cost."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PERCENTILES = (50, 95, 99)


def latency_percentiles(latencies_ms: Sequence[float]) -> dict[str, float]:
    """{"p50", "p95", "p99"} in the input unit, linear interpolation (numpy's default method)."""
    if not latencies_ms:
        return {}
    values = np.percentile(np.asarray(latencies_ms, dtype=float), PERCENTILES)
    return {f"p{p}": float(v) for p, v in zip(PERCENTILES, values, strict=True)}


def tokens_per_second(tokens: int, seconds: float) -> float:
    """Generated tokens per wall-clock second; 0 when no time elapsed (nothing to divide)."""
    return tokens / seconds if seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Pricing:
    """Prices in currency units per million tokens, as model registrations store them."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0

    @classmethod
    def from_mapping(cls, pricing: Mapping[str, float] | None) -> Pricing:
        if not pricing:
            return cls()
        return cls(
            float(pricing.get("input_per_million", 0.0)), float(pricing.get("output_per_million", 0.0))
        )


def cost(prompt_tokens: int, completion_tokens: int, pricing: Pricing | Mapping[str, float] | None) -> float:
    """Cost of the tokens under `pricing` ({input_per_million, output_per_million})."""
    p = pricing if isinstance(pricing, Pricing) else Pricing.from_mapping(pricing)
    return (prompt_tokens * p.input_per_million + completion_tokens * p.output_per_million) / 1_000_000


def run_summary(
    latencies_ms: Sequence[float],
    prompt_tokens: int,
    completion_tokens: int,
    wall_seconds: float,
    pricing: Pricing | Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The serving block of an Evaluation: latency_p50/p95/p99_ms, tokens, tokens_per_second, cost."""
    out = {f"latency_{k}_ms": v for k, v in latency_percentiles(latencies_ms).items()}
    if latencies_ms:
        out["latency_mean_ms"] = math.fsum(latencies_ms) / len(latencies_ms)
    out["prompt_tokens"] = float(prompt_tokens)
    out["completion_tokens"] = float(completion_tokens)
    out["total_tokens"] = float(prompt_tokens + completion_tokens)
    out["tokens_per_second"] = tokens_per_second(completion_tokens, wall_seconds)
    out["cost"] = cost(prompt_tokens, completion_tokens, pricing)
    return out
