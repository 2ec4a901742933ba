"""The Research Lab run launcher: a run of an experiment whose config names models and data
(dataset_ids, or catalog `benchmarks`) becomes a managed run executed by the engine."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.catalog import UnknownCatalogIdError, load_catalog
from llm_research_lab.errors import ValidationError
from llm_research_lab.jobs import store
from llm_research_lab.jobs.local import LocalExecutor
from llm_research_lab.jobs.spec import LabJobSpec, LabSource
from llm_research_lab.server.db.models import Experiment, LLMModel, Run
from llm_research_lab.server.runs.service import RunLauncher
from llm_research_lab.server.state import AppState


def _ids(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def make_run_launcher(state: AppState, executor: LocalExecutor) -> RunLauncher:
    async def launch(session: AsyncSession, exp: Experiment, run: Run) -> bool:
        cfg: dict[str, Any] = dict(run.config)
        if exp.metadata_.get("source") == "eval-hub":
            return False  # hub runs are planned and enqueued by the hub itself
        model_ids = _ids(cfg.get("model_ids"))
        benchmarks = [str(b) for b in cfg.get("benchmarks") or [] if isinstance(b, str)]
        dataset_ids = _ids(cfg.get("dataset_ids")) if state.extras.get("dataset_rows") is not None else []
        if not model_ids or not (benchmarks or dataset_ids):
            return False  # a tracked run: the client reports its metrics
        try:
            wanted = [uuid.UUID(m) for m in model_ids]
        except ValueError:
            return False
        found = (await session.execute(select(func.count()).where(LLMModel.id.in_(wanted)))).scalar_one()
        if found != len(set(wanted)):
            return False  # unknown models: nothing the engine could call, so the client tracks it
        catalog = load_catalog(state.settings.benchmark_data_dir)
        for b in benchmarks:
            try:
                catalog.find_benchmark(b)
            except UnknownCatalogIdError as exc:
                raise ValidationError.from_fields({"config.benchmarks": str(exc)}) from None
        versions = cfg.get("dataset_versions") or {}
        sources = [LabSource(kind="dataset", id=d, version=versions.get(d)) for d in dataset_ids]
        sources += [LabSource(kind="benchmark", id=b) for b in benchmarks]
        params = cfg.get("parameters") or {}
        spec = LabJobSpec(
            model_ids=model_ids,
            sources=sources,
            prompt_template_ids=_ids(cfg.get("prompt_template_ids")),
            evaluation_metrics=[str(m) for m in cfg.get("evaluation_metrics") or []],
            parameters=dict(params) if isinstance(params, dict) else {},
            num_samples=cfg.get("num_samples"),
            random_seed=cfg.get("random_seed"),
            num_fewshot=cfg.get("num_fewshot"),
            target_field=cfg.get("target_field"),
        )
        timeout = cfg.get("timeout_minutes")
        session.add(
            store.new_job(
                run,
                kind="lab",
                spec=spec.model_dump(mode="json"),
                owner_id=exp.owner_id,
                max_attempts=int(cfg.get("retry_attempts") or 0) + 1,
                timeout_s=float(timeout) * 60 if isinstance(timeout, int | float) else None,
            )
        )
        await session.flush()
        executor.notify_after_commit(session)
        return True

    return launch


def install_dataset_rows(state: AppState) -> None:
    """Research Lab runs read dataset versions through the datasets domain's service (when the
    object store is installed); registered as ``extras["dataset_rows"]`` for the executor."""

    async def dataset_rows(
        session: AsyncSession, dataset_id: uuid.UUID, version: str | None
    ) -> list[dict[str, Any]]:
        from llm_research_lab.server.datasets.service import DatasetService

        service = DatasetService(session, state.extras["object_store"], state.settings)
        rows: list[dict[str, Any]] = []
        while True:
            page = await service.rows(dataset_id, version, len(rows), 10_000)
            rows.extend(dict(r) for r in page.data)
            if not page.has_more or not page.data:
                return rows

    state.extras.setdefault("dataset_rows", dataset_rows)
