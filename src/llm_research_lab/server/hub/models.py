"""Eval Hub models: the same rows as the Research Lab /models, addressed by slug (model_id)."""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import ConflictError, NotFoundError
from llm_research_lab.jobs.spec import model_spec, probe_model
from llm_research_lab.schemas import hub as h
from llm_research_lab.schemas.models import ModelCreate, ModelUpdate
from llm_research_lab.server.db.models import LLMModel
from llm_research_lab.server.hub.runtime import apply_probe, runtime_models_from_env, sync_runtime_models
from llm_research_lab.server.models.service import ModelService
from llm_research_lab.server.principal import Principal

# Hub model types whose client needs a key, and the variable it is read from by default.
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google": "GOOGLE_API_KEY"}


def to_hub(row: LLMModel) -> h.HubModel:
    return h.HubModel(
        model_id=row.slug,
        model_name=row.name,
        description=row.description,
        model_type=row.provider,
        base_url=row.base_url,
        api_key_required=row.api_key_required,
        api_key_env=row.api_key_env,
        model_path=row.model_identifier,
        capabilities=dict(row.capabilities),
        config=dict(row.config),
        status=row.status,
        tags=list(row.tags),
        is_runtime=row.is_runtime,
        probe=dict(row.probe) if row.probe is not None else None,
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class HubModelService:
    def __init__(self, session: AsyncSession, environ: Mapping[str, str] | None = None) -> None:
        self.session = session
        self.models = ModelService(session)
        self.environ = environ

    async def get(self, model_id: str) -> LLMModel:
        row = await self.models.repo.get_by_slug(model_id)
        if row is None:
            raise NotFoundError(await self.not_found_message(model_id))
        return row

    async def not_found_message(self, model_id: str) -> str:
        slugs = [r.slug for r in await self.models.repo.all(self.models.repo.list_stmt())]
        close = difflib.get_close_matches(model_id, slugs, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"Model '{model_id}' not found{hint} (register it with POST /api/v1/models, or configure "
            "a runtime model with LAB_MODEL_<KEY>_URL)"
        )

    async def list(self, include_inactive: bool) -> h.HubModelList:
        repo = self.models.repo
        registered = await repo.all(repo.list_stmt(include_inactive=include_inactive, runtime=False))
        runtime = await repo.all(repo.list_stmt(include_inactive=include_inactive, runtime=True))
        return h.HubModelList(
            models=[to_hub(r) for r in registered],
            runtime_models=[to_hub(r) for r in runtime],
            total_models=len(registered) + len(runtime),
        )

    async def register(self, principal: Principal, data: h.HubModelCreate) -> LLMModel:
        existing = await self.models.repo.get_by_slug(data.model_id)
        if existing is not None:
            raise ConflictError(
                f"A model with model_id '{data.model_id}' already exists", existing_id=existing.id.hex
            )
        key_env = data.api_key_env
        if key_env is None and data.api_key_required:
            key_env = DEFAULT_KEY_ENV.get(data.model_type)
        create = ModelCreate(
            name=data.model_name,
            provider=data.model_type,
            model_identifier=data.model_path or data.model_id,
            description=data.description,
            base_url=data.base_url,
            api_key_env=key_env,
            config=data.config,
            tags=data.tags,
        )
        # Probe first, with no write transaction open across the network call.
        transient = LLMModel(
            slug=data.model_id,
            provider=create.provider,
            model_identifier=create.model_identifier,
            base_url=create.base_url,
            api_key_env=create.api_key_env,
            config=dict(create.config),
        )
        probe = await probe_model(model_spec(transient), self.environ)
        row = await self.models.create(principal, create, slug=data.model_id)
        row.api_key_required = data.api_key_required
        row.capabilities = dict(data.capabilities)
        row.status = data.status
        apply_probe(row, probe)
        await self.session.flush()
        return row

    async def update(self, model_id: str, data: h.HubModelUpdate) -> LLMModel:
        row = await self.get(model_id)
        sent = data.model_dump(exclude_unset=True)
        shared = ModelUpdate(
            **{
                k: v
                for k, v in {
                    "name": sent.get("model_name"),
                    "description": sent.get("description"),
                    "base_url": sent.get("base_url"),
                    "api_key_env": sent.get("api_key_env"),
                    "model_identifier": sent.get("model_path"),
                    "config": sent.get("config"),
                    "tags": sent.get("tags"),
                }.items()
                if k in _sent_names(sent)
            }
        )
        row = await self.models.update(row.id, shared)
        if "status" in sent and data.status is not None:
            row.status = data.status
        if "capabilities" in sent and data.capabilities is not None:
            row.capabilities = dict(data.capabilities)
        if "api_key_required" in sent and data.api_key_required is not None:
            row.api_key_required = data.api_key_required
        await self.session.flush()
        return row

    async def delete(self, model_id: str) -> str:
        row = await self.get(model_id)
        await self.models.delete(row.id)
        return f"Model '{model_id}' deleted successfully"

    async def probe(self, model_id: str) -> LLMModel:
        row = await self.get(model_id)
        apply_probe(row, await probe_model(model_spec(row), self.environ))
        await self.session.flush()
        return row

    async def reload(self) -> h.ReloadResult:
        models, problems = runtime_models_from_env(self.environ or {})
        transient = [
            LLMModel(
                slug=m.model_id,
                provider=m.model_type,
                model_identifier=m.model_path,
                base_url=m.base_url,
                api_key_env=m.api_key_env,
                config={},
            )
            for m in models
        ]
        probes = dict(
            zip(
                [m.model_id for m in models],
                await asyncio.gather(*(probe_model(model_spec(t), self.environ) for t in transient)),
                strict=True,
            )
        )
        rows, removed, skipped = await sync_runtime_models(self.session, models)
        for row in rows:
            apply_probe(row, probes[row.slug])
        await self.session.flush()
        notes = [*problems, *(f"{s}: a registered model has this model_id" for s in skipped)]
        message = f"Reloaded {len(rows)} runtime model(s) from environment variables"
        if notes:
            message += "; skipped: " + "; ".join(notes)
        if not rows and not notes:
            message = "No runtime models configured (set LAB_MODEL_<KEY>_URL)"
        return h.ReloadResult(message=message, runtime_models=[r.slug for r in rows], removed=removed)


_FIELD_NAMES = {
    "model_name": "name",
    "description": "description",
    "base_url": "base_url",
    "api_key_env": "api_key_env",
    "model_path": "model_identifier",
    "config": "config",
    "tags": "tags",
}


def _sent_names(sent: Mapping[str, object]) -> set[str]:
    return {_FIELD_NAMES[k] for k in sent if k in _FIELD_NAMES}
