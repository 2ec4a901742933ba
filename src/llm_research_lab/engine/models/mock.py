"""A scripted in-process model: deterministic answers for demos, dry runs and engine tests.

Answers come from a mapping or a callable; anything not scripted gets a stable pseudo-random
value derived from a hash of the request, so two runs of the same benchmark agree exactly.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llm_research_lab.engine.models.base import ModelCapabilities, ModelSpec, truncate_at_stop
from llm_research_lab.engine.models.errors import CapabilityError, ModelConfigError
from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
)

GenerateScript = Mapping[str, str] | Callable[[GenerateRequest], str]
LoglikelihoodScript = Mapping[tuple[str, str], float] | Callable[[LoglikelihoodRequest], float]


def _stable_unit(*parts: str) -> float:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class MockClient:
    """In-process model. `generate` maps a context (exact, else first key contained in the
    context) to an answer; `loglikelihood` maps (context, continuation) to a logprob."""

    def __init__(
        self,
        *,
        generate: GenerateScript | None = None,
        loglikelihood: LoglikelihoodScript | None = None,
        default_answer: str | None = None,
        supports_logprobs: bool = True,
        latency_s: float = 0.0,
        name: str = "mock",
    ) -> None:
        self._generate = generate
        self._loglikelihood = loglikelihood
        self._default_answer = default_answer
        self._latency = latency_s
        self._name = name
        self._caps = ModelCapabilities(
            supports_logprobs=supports_logprobs,
            supports_completions=supports_logprobs,
            supports_chat=True,
            max_concurrency=64,
            probed=True,
        )
        self.calls = 0

    @property
    def capabilities(self) -> ModelCapabilities:
        return self._caps

    @property
    def endpoint(self) -> str:
        return f"mock model {self._name!r}"

    def _ll_value(self, request: LoglikelihoodRequest) -> float:
        script = self._loglikelihood
        if callable(script):
            return float(script(request))
        if script is not None:
            key = (request.context, request.continuation)
            if key in script:
                return float(script[key])
        # Unscripted: a stable value in (-10, 0], shorter continuations slightly favoured.
        return -10.0 * _stable_unit("ll", request.context, request.continuation)

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodResponse:
        if not self._caps.supports_logprobs:
            raise CapabilityError(f"{self.endpoint} is configured without log-likelihoods")
        self.calls += 1
        if self._latency:
            await asyncio.sleep(self._latency)
        value = self._ll_value(request)
        # Greedy when the scripted logprob is ~0 (probability ~1): the only honest reading.
        return LoglikelihoodResponse(
            logprob=value,
            is_greedy=value > -1e-6,
            tokens=len(request.continuation.split()) or 1,
            prompt_tokens=len((request.context + request.continuation).split()),
        )

    async def loglikelihood_many(
        self, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResponse]:
        return [await self.loglikelihood(r) for r in requests]

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        self.calls += 1
        if self._latency:
            await asyncio.sleep(self._latency)
        text = self._answer(request)
        return GenerateResponse(
            text=truncate_at_stop(text, request.until),
            prompt_tokens=len(request.context.split()),
            completion_tokens=len(text.split()),
        )

    def _answer(self, request: GenerateRequest) -> str:
        script = self._generate
        if callable(script):
            return script(request)
        if script is not None:
            if request.context in script:
                return script[request.context]
            for key, value in script.items():
                if key and key in request.context:
                    return value
        if self._default_answer is not None:
            return self._default_answer
        # Unscripted: one of A-D, stable per prompt (a plausible multiple-choice "guess").
        return "ABCD"[int(_stable_unit("gen", request.context) * 4)]

    def should_retry(self, exc: BaseException) -> bool:
        return False

    async def aclose(self) -> None:
        return None


def create_mock_client(spec: ModelSpec) -> MockClient:
    """Build from `spec.options`: `answers` (context substring -> text), `logprobs`
    ({"context": .., "continuation": .., "logprob": ..} items), `default_answer`,
    `supports_logprobs`, `latency_s`. Options are plain data so a spec stays serialisable."""
    opts: Mapping[str, Any] = spec.options
    answers = opts.get("answers")
    if answers is not None and not isinstance(answers, Mapping):
        raise ModelConfigError("mock option 'answers' must be a mapping of prompt substring -> answer")
    ll: dict[tuple[str, str], float] | None = None
    items = opts.get("logprobs")
    if items is not None:
        try:
            ll = {(str(i["context"]), str(i["continuation"])): float(i["logprob"]) for i in items}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelConfigError(
                "mock option 'logprobs' must be a list of {context, continuation, logprob}"
            ) from exc
    default = opts.get("default_answer")
    return MockClient(
        generate={str(k): str(v) for k, v in answers.items()} if answers is not None else None,
        loglikelihood=ll,
        default_answer=str(default) if default is not None else None,
        supports_logprobs=bool(opts.get("supports_logprobs", True)),
        latency_s=float(opts.get("latency_s", 0.0)),
        name=spec.model_name,
    )
