"""The Python SDK: ``Client`` (blocking) and ``AsyncClient`` (asyncio) for both API surfaces.

Both clients run the same sans-I/O operations (:mod:`llm_research_lab.client._core`), so retries,
token refresh, error mapping, pagination and polling behave identically; see that module for why.
"""

from __future__ import annotations

from llm_research_lab.client._async import AsyncClient, AsyncExperiment, AsyncRun
from llm_research_lab.client._core import ClientConfig, error_from_response
from llm_research_lab.client._sync import Client, Experiment, Run
from llm_research_lab.client.types import ExperimentMetrics, Record, SignedUrl, TokenPair

__all__ = [
    "AsyncClient",
    "AsyncExperiment",
    "AsyncRun",
    "Client",
    "ClientConfig",
    "Experiment",
    "ExperimentMetrics",
    "Record",
    "Run",
    "SignedUrl",
    "TokenPair",
    "error_from_response",
]
