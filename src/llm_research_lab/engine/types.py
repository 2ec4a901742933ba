"""Core value types shared by benchmarks, model clients, backends and the runner.

The engine knows nothing of HTTP routes or SQL. A benchmark turns documents into requests
(`LoglikelihoodRequest` / `GenerateRequest`), a model client answers them, and the benchmark
scores the answers. The runner glues them together and reports every scored sample to a
`SampleSink` (the server persists those in the sample ledger).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class RequestType(StrEnum):
    LOGLIKELIHOOD = "loglikelihood"
    GENERATE_UNTIL = "generate_until"


@dataclass(frozen=True, slots=True)
class LoglikelihoodRequest:
    """log P(continuation | context), and whether continuation is the greedy completion."""

    context: str
    continuation: str

    @property
    def kind(self) -> RequestType:
        return RequestType.LOGLIKELIHOOD

    def cache_key(self) -> str:
        return _hash({"t": "ll", "c": self.context, "x": self.continuation})


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """Generate text after `context` until one of `until` appears (stop sequences)."""

    context: str
    until: tuple[str, ...] = ()
    max_gen_toks: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    # Chat endpoints: the context is sent as one user message unless messages are given.
    messages: tuple[tuple[str, str], ...] | None = None

    @property
    def kind(self) -> RequestType:
        return RequestType.GENERATE_UNTIL

    def cache_key(self) -> str:
        return _hash(
            {
                "t": "gen",
                "c": self.context,
                "u": list(self.until),
                "m": self.max_gen_toks,
                "temp": self.temperature,
                "p": self.top_p,
                "msg": [list(m) for m in self.messages] if self.messages else None,
            }
        )


Request = LoglikelihoodRequest | GenerateRequest


@dataclass(frozen=True, slots=True)
class LoglikelihoodResponse:
    logprob: float
    is_greedy: bool
    # Tokens in the continuation.
    tokens: int = 0
    # Tokens in context + continuation (what the endpoint processed; for token accounting).
    prompt_tokens: int = 0


@dataclass(frozen=True, slots=True)
class GenerateResponse:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


Response = LoglikelihoodResponse | GenerateResponse


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ScoredSample:
    """One document scored; what the sample ledger stores."""

    benchmark: str
    doc_id: int
    request_hash: str
    prompt: str
    response: str
    target: str
    scores: dict[str, float]
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    repeat: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class SampleSink(Protocol):
    """Where the runner reports samples. The server implementation writes the ledger."""

    async def completed(self, benchmark: str) -> Mapping[int, ScoredSample]:
        """Samples already scored for this benchmark (doc_id -> sample), used to resume."""
        ...

    async def record(self, samples: Sequence[ScoredSample]) -> None:
        """Persist newly scored samples (called as they complete, in small batches)."""
        ...


class ProgressCallback(Protocol):
    async def __call__(self, benchmark: str, done: int, total: int, running: Mapping[str, float]) -> None:
        """`running` carries running metric means (e.g. accuracy so far)."""
        ...


def _hash(payload: Mapping[str, Any]) -> str:
    raw = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def request_hash(requests: Sequence[Request]) -> str:
    """A stable hash for the set of requests one document needs (ledger idempotency key)."""
    return _hash({"r": [r.cache_key() for r in requests]})
