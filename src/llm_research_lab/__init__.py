"""LLM Research Lab: server, SDK and CLI for LLM experiments and benchmark evaluations.

``from llm_research_lab import Client`` is the SDK entry point. The SDK and the error classes are
imported lazily, so that importing the package (the server does, for ``__version__``) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from llm_research_lab.client import (
        AsyncClient,
        AsyncExperiment,
        AsyncRun,
        Client,
        Experiment,
        ExperimentMetrics,
        Run,
    )
    from llm_research_lab.errors import (
        ConflictError,
        LabError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        RunFailedError,
        TimeoutError_,
        UnauthorizedError,
        ValidationError,
    )

_CLIENT = {"AsyncClient", "AsyncExperiment", "AsyncRun", "Client", "Experiment", "ExperimentMetrics", "Run"}
_ERRORS = {
    "ConflictError",
    "LabError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RunFailedError",
    "TimeoutError_",
    "UnauthorizedError",
    "ValidationError",
}

__all__ = [
    "AsyncClient",
    "AsyncExperiment",
    "AsyncRun",
    "Client",
    "ConflictError",
    "Experiment",
    "ExperimentMetrics",
    "LabError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Run",
    "RunFailedError",
    "TimeoutError_",
    "UnauthorizedError",
    "ValidationError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _CLIENT:
        from llm_research_lab import client

        return getattr(client, name)
    if name in _ERRORS:
        from llm_research_lab import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'llm_research_lab' has no attribute {name!r}")
