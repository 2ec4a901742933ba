"""Errors raised by model clients.

The engine knows nothing of HTTP status envelopes of our own API; the jobs layer maps these to
run failures. Messages name the endpoint and the upstream error but never an API key.
"""

from __future__ import annotations

from llm_research_lab.engine.concurrency import FailureBudgetExceeded

__all__ = [
    "CapabilityError",
    "FailureBudgetExceeded",
    "ModelClientError",
    "ModelConfigError",
    "ModelConnectionError",
    "ModelDependencyError",
    "ModelHTTPError",
    "ModelRequestError",
    "ModelResponseError",
    "ModelTimeoutError",
]

# Deterministic client errors: the same request fails the same way again.
NON_RETRYABLE_STATUS = frozenset({400, 401, 403, 404, 405, 413, 422})
# The whole endpoint is unusable (bad key, wrong model name): stop the run, not just the doc.
FATAL_STATUS = frozenset({401, 403, 404})
# Server asks us to slow down (529: Anthropic "overloaded").
OVERLOAD_STATUS = frozenset({429, 503, 529})


class ModelClientError(Exception):
    """Base class for everything a model client raises on purpose."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class ModelConfigError(ModelClientError):
    """The ModelSpec is unusable: unknown model_type, missing API key variable, bad URL."""


class ModelDependencyError(ModelConfigError):
    """An optional extra (e.g. torch/transformers for local models) is not installed."""


class CapabilityError(ModelClientError):
    """The model cannot serve this request type (e.g. log-likelihood on a chat-only endpoint)."""


class ModelRequestError(ModelClientError):
    """One request failed. `retryable`/`overloaded`/`fatal` drive the retry policy and runner."""

    retryable: bool = True
    overloaded: bool = False
    fatal: bool = False
    retry_after: float | None = None


class ModelHTTPError(ModelRequestError):
    def __init__(
        self,
        status: int,
        body: str,
        *,
        endpoint: str,
        retry_after: float | None = None,
    ) -> None:
        excerpt = body.strip().replace("\n", " ")
        if len(excerpt) > 300:
            excerpt = excerpt[:297] + "..."
        super().__init__(f"HTTP {status} from {endpoint}: {excerpt}", endpoint=endpoint)
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.overloaded = status in OVERLOAD_STATUS
        self.fatal = status in FATAL_STATUS
        # 408 (request timeout) and 409/425 are transient by definition; other 4xx are not.
        self.retryable = status >= 500 or status in {408, 409, 425, 429}
        if status in NON_RETRYABLE_STATUS:
            self.retryable = False


class ModelConnectionError(ModelRequestError):
    """Connection refused/reset/dropped before a complete response arrived."""


class ModelTimeoutError(ModelRequestError):
    """No response within the per-request timeout."""


class ModelResponseError(ModelRequestError):
    """A 2xx response we cannot interpret (missing logprobs, malformed JSON)."""

    retryable = False
