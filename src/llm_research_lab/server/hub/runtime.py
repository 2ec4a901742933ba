"""Runtime models: configured through environment variables, read in this one place.

    LAB_MODEL_<KEY>_URL          base URL of the endpoint (required; defines the model)
    LAB_MODEL_<KEY>_NAME         model_id (default: KEY lowercased, "_" -> "-")
    LAB_MODEL_<KEY>_TYPE         model type (default: openai-compatible)
    LAB_MODEL_<KEY>_PATH         model name sent to the endpoint (default: the model_id)
    LAB_MODEL_<KEY>_API_KEY_ENV  name of the variable holding the API key

They become model rows with is_runtime=True, upserted at start and on POST /api/v1/models/reload;
they cannot be updated or deleted through the API.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.jobs.spec import model_spec, probe_model
from llm_research_lab.schemas.models import PROVIDERS
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import LLMModel
from llm_research_lab.server.state import AppState

log = logging.getLogger("llm_research_lab.hub")

_URL_VAR = re.compile(r"^LAB_MODEL_([A-Z0-9][A-Z0-9_]*)_URL$")


@dataclass(frozen=True, slots=True)
class RuntimeModel:
    key: str
    model_id: str
    base_url: str
    model_type: str
    model_path: str
    api_key_env: str | None


def runtime_models_from_env(environ: Mapping[str, str]) -> tuple[list[RuntimeModel], list[str]]:
    """(models, problems): every LAB_MODEL_<KEY>_URL with its companions; bad entries are reported
    as problems and skipped, so one typo does not hide the other models."""
    models: list[RuntimeModel] = []
    problems: list[str] = []
    for var in sorted(environ):
        m = _URL_VAR.match(var)
        if m is None:
            continue
        key = m.group(1)
        url = environ[var].strip()
        prefix = f"LAB_MODEL_{key}_"
        model_id = environ.get(prefix + "NAME", "").strip() or key.lower().replace("_", "-")
        model_type = environ.get(prefix + "TYPE", "").strip() or "openai-compatible"
        if not url:
            problems.append(f"{var} is empty")
            continue
        if model_type not in PROVIDERS:
            problems.append(f"{prefix}TYPE={model_type!r} is not one of {', '.join(PROVIDERS)}")
            continue
        models.append(
            RuntimeModel(
                key=key,
                model_id=model_id,
                base_url=url,
                model_type=model_type,
                model_path=environ.get(prefix + "PATH", "").strip() or model_id,
                api_key_env=environ.get(prefix + "API_KEY_ENV", "").strip() or None,
            )
        )
    return models, problems


async def sync_runtime_models(
    session: AsyncSession, models: list[RuntimeModel]
) -> tuple[list[LLMModel], list[str], list[str]]:
    """Upsert runtime rows, remove runtime rows no longer configured. Returns (rows, removed,
    skipped): a registered (non-runtime) model with the same model_id is never overwritten."""
    existing = {r.slug: r for r in (await session.execute(select(LLMModel))).scalars()}
    rows: list[LLMModel] = []
    skipped: list[str] = []
    wanted = {m.model_id for m in models}
    for m in models:
        row = existing.get(m.model_id)
        if row is not None and not row.is_runtime:
            log.warning("runtime model %s ignored: a registered model has that model_id", m.model_id)
            skipped.append(m.model_id)
            continue
        if row is None:
            row = LLMModel(slug=m.model_id, is_runtime=True, config={}, capabilities={}, tags=["runtime"])
            session.add(row)
        row.name = m.model_id
        row.description = f"Runtime model from LAB_MODEL_{m.key}_* environment variables"
        row.provider = m.model_type
        row.model_identifier = m.model_path
        row.base_url = m.base_url
        row.api_key_env = m.api_key_env
        row.api_key_required = m.api_key_env is not None
        row.status = "active"
        row.updated_at = utcnow()
        rows.append(row)
    removed = [slug for slug, r in existing.items() if r.is_runtime and slug not in wanted]
    for slug in removed:
        await session.delete(existing[slug])
    await session.flush()
    return rows, removed, skipped


async def probe_rows(rows: list[LLMModel], environ: Mapping[str, str] | None) -> None:
    """Probe endpoints concurrently and store what they support on the rows."""
    results = await asyncio.gather(*(probe_model(model_spec(r), environ) for r in rows))
    for row, probe in zip(rows, results, strict=True):
        apply_probe(row, probe)


def apply_probe(row: LLMModel, probe: dict[str, object]) -> None:
    row.probe = probe
    caps = probe.get("capabilities")
    if probe.get("ok") and isinstance(caps, dict):
        found = {
            k: caps[k]
            for k in ("supports_logprobs", "supports_completions", "supports_chat", "supports_tokenize")
            if k in caps
        }
        row.capabilities = {**found, **row.capabilities}


def install_runtime_models(state: AppState, environ: Mapping[str, str]) -> None:
    """At start: upsert the runtime rows at once, probe their endpoints in the background (a slow
    endpoint must not delay start-up; jobs use the type's defaults until the probe lands)."""
    state.extras["environ"] = environ

    async def start(st: AppState) -> None:
        models, problems = runtime_models_from_env(environ)
        for p in problems:
            log.warning("runtime model configuration: %s", p)
        async with st.sessionmaker() as session:
            rows, _, _ = await sync_runtime_models(session, models)
            await session.commit()
            ids = [r.id for r in rows]
        if ids:
            st.extras["runtime_probe_task"] = asyncio.create_task(_probe_later(st, ids, environ))

    async def stop(st: AppState) -> None:
        task = st.extras.pop("runtime_probe_task", None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    state.extras.setdefault("startup_hooks", []).insert(0, start)
    state.extras.setdefault("shutdown_hooks", []).append(stop)


async def _probe_later(state: AppState, ids: list[uuid.UUID], environ: Mapping[str, str]) -> None:
    async with state.sessionmaker() as session:
        rows = list((await session.execute(select(LLMModel).where(LLMModel.id.in_(ids)))).scalars())
    # Probe without a transaction open; write the results in one short one.
    results = await asyncio.gather(*(probe_model(model_spec(r), environ) for r in rows))
    async with state.sessionmaker() as session:
        for row, probe in zip(rows, results, strict=True):
            fresh = await session.get(LLMModel, row.id)
            if fresh is not None:
                apply_probe(fresh, probe)
        await session.commit()
