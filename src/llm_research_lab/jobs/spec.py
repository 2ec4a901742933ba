"""What a job executes (stored as JSON in ``jobs.spec``) and how a model row becomes a client."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_research_lab.engine.models import (
    GenerationParams,
    ModelCapabilities,
    ModelClientError,
    ModelSpec,
    create_client,
)
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import LLMModel

PROBE_TIMEOUT_S = 8.0


class GenerationConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None


class BenchmarkJobSpec(BaseModel):
    """One Eval Hub evaluation x backend x benchmark."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    kind: Literal["benchmark"] = "benchmark"
    model_id: str  # the model row's uuid
    model_slug: str
    benchmark_id: str
    provider_id: str
    backend_name: str
    backend_type: str
    evaluation_name: str
    limit: int | None = None
    num_fewshot: int | None = None
    model_configuration: dict[str, Any] = Field(default_factory=dict)


class LabSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["benchmark", "dataset"]
    id: str
    version: str | None = None


class LabJobSpec(BaseModel):
    """A Research Lab managed run: every model x source x prompt template of the run's config."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    kind: Literal["lab"] = "lab"
    model_ids: list[str] = Field(min_length=1)
    sources: list[LabSource] = Field(min_length=1)
    prompt_template_ids: list[str] = Field(default_factory=list)
    evaluation_metrics: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    num_samples: int | None = None
    random_seed: int | None = None
    num_fewshot: int | None = None
    target_field: str | None = None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def stored_capabilities(row: LLMModel) -> ModelCapabilities | None:
    """The engine capabilities found by the last successful probe (None: the type's defaults)."""
    probe = row.probe or {}
    caps = probe.get("capabilities") if probe.get("ok") else None
    return ModelCapabilities.from_dict(caps) if isinstance(caps, Mapping) else None


def model_spec(row: LLMModel, overrides: Mapping[str, Any] | None = None) -> ModelSpec:
    """The engine's view of a model row; `overrides` (a request's model_configuration) win over
    the row's config. The API key stays in the environment: only its variable name is passed."""
    cfg: dict[str, Any] = {**row.config, **(overrides or {})}
    extra_body = dict(cfg.get("extra_body") or {})
    return ModelSpec(
        model_type=row.provider,
        model_name=row.model_identifier,
        base_url=row.base_url,
        api_key_env=row.api_key_env,
        timeout=_float(cfg.get("timeout")) or 120.0,
        generation=GenerationParams(
            max_tokens=_int(cfg.get("max_tokens")),
            temperature=_float(cfg.get("temperature")),
            top_p=_float(cfg.get("top_p")),
            extra_body=extra_body,
        ),
        max_concurrency=_int(cfg.get("max_concurrency")),
        batch_size=_int(cfg.get("batch_size")) or 1,
        generation_endpoint="completions" if cfg.get("generation_endpoint") == "completions" else "chat",
        capabilities=stored_capabilities(row),
        # 0 is a legitimate choice ("no HTTP retries"); only an absent value means the default.
        max_retries=_or(_int(cfg.get("max_retries", cfg.get("retry_attempts"))), 3),
        options=dict(cfg.get("options") or {}) if row.provider == "mock" else {},
    )


async def probe_model(spec: ModelSpec, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Ask the endpoint what it supports. Never raises: an unreachable endpoint or a missing key
    is recorded as ``{"ok": false, "error": ...}`` (registration must not depend on it)."""
    probed_at = utcnow().isoformat()
    try:
        client = create_client(spec, environ=environ)
    except ModelClientError as exc:
        return {"ok": False, "error": str(exc), "probed_at": probed_at}
    try:
        probe = getattr(client, "probe", None)
        if probe is None:
            caps = client.capabilities
        else:
            caps = await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
        return {"ok": True, "capabilities": caps.to_dict(), "probed_at": probed_at}
    except TimeoutError:
        return {"ok": False, "error": f"probe timed out after {PROBE_TIMEOUT_S:g}s", "probed_at": probed_at}
    except (ModelClientError, OSError) as exc:
        return {"ok": False, "error": str(exc), "probed_at": probed_at}
    finally:
        await client.aclose()
