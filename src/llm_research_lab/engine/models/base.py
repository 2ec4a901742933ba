"""The model client protocol and the typed spec a client is built from.

A `ModelSpec` is what the server turns a registered Model row into; `create_client(spec)`
(see `registry.py`) builds the matching client. The spec holds the *name* of the environment
variable with the API key, never the key itself, so specs can be logged and persisted safely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
)


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    """What an endpoint can do. `probe()` discovers it; the server stores it with the model."""

    supports_logprobs: bool = False
    supports_completions: bool = False
    supports_chat: bool = True
    supports_tokenize: bool = False
    # The completions endpoint accepts a list of prompts in one request.
    supports_batch_prompts: bool = False
    max_concurrency: int = 8
    # OpenAI's API refuses more than 4 stop sequences; the rest are applied client-side.
    max_stop_sequences: int | None = None
    # max_tokens sent with echo=true log-likelihood requests: 0 where allowed (vLLM, the OpenAI
    # legacy API); servers that insist on >= 1 get 1 and the generated token is ignored.
    echo_max_tokens: int = 0
    served_models: tuple[str, ...] = ()
    probed: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["served_models"] = list(self.served_models)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCapabilities:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "served_models" in known:
            known["served_models"] = tuple(known["served_models"])
        return cls(**known)

    def with_(self, **changes: Any) -> ModelCapabilities:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Defaults applied to generation requests unless the request itself says otherwise."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    # Passed through verbatim into the request body (e.g. {"seed": 1234} or vLLM extras).
    extra_body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything needed to talk to one model. Safe to log: contains no secrets."""

    model_type: str
    # The model name/path sent to the endpoint (e.g. "meta-llama/Llama-3.1-8B-Instruct").
    model_name: str
    base_url: str | None = None
    # NAME of the environment variable holding the API key (e.g. "OPENAI_API_KEY").
    api_key_env: str | None = None
    timeout: float = 120.0
    generation: GenerationParams = field(default_factory=GenerationParams)
    # Configured ceiling for concurrent requests; None means the model type's default.
    max_concurrency: int | None = None
    # Log-likelihood prompts per completions request (when the endpoint accepts a list).
    batch_size: int = 1
    # Where generation goes on OpenAI-compatible endpoints.
    generation_endpoint: Literal["chat", "completions"] = "chat"
    # Stored probe result, if the server probed the endpoint at registration.
    capabilities: ModelCapabilities | None = None
    max_retries: int = 5
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    # Client-type specific options (e.g. the mock client's scripted answers).
    options: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class ModelClient(Protocol):
    """One model, one request type per method. Implementations must be safe to call concurrently."""

    @property
    def capabilities(self) -> ModelCapabilities: ...

    @property
    def endpoint(self) -> str:
        """A human-readable name of where requests go (for errors and logs)."""
        ...

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodResponse:
        """log P(continuation | context). Raises CapabilityError when unsupported."""
        ...

    async def loglikelihood_many(
        self, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResponse]:
        """Several log-likelihoods, batched into as few requests as the endpoint allows."""
        ...

    async def generate(self, request: GenerateRequest) -> GenerateResponse: ...

    def should_retry(self, exc: BaseException) -> bool:
        """Whether a failed attempt is worth retrying (the retry loop asks this)."""
        ...

    async def aclose(self) -> None: ...


def truncate_at_stop(text: str, until: Sequence[str]) -> str:
    """Cut `text` at the first stop sequence. Applied client-side as well because servers differ
    (OpenAI caps the number of stop sequences, Anthropic rejects whitespace-only ones)."""
    cut = len(text)
    for stop in until:
        if stop:
            idx = text.find(stop)
            if 0 <= idx < cut:
                cut = idx
    return text[:cut]
