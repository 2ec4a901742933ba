"""Eval Hub evaluation requests: validate and plan a request, create its experiment, runs and
jobs; derive its status from the runs; cancel it; read its sample ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.catalog import Benchmark as CatalogBenchmark
from llm_research_lab.catalog import Catalog, UnknownCatalogIdError
from llm_research_lab.engine.registry import BENCHMARKS
from llm_research_lab.errors import (
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
    ValidationError,
)
from llm_research_lab.jobs import store
from llm_research_lab.jobs.local import LocalExecutor
from llm_research_lab.jobs.spec import BenchmarkJobSpec
from llm_research_lab.schemas import experiments as es
from llm_research_lab.schemas import hub as h
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import EvalRequest, Experiment, Job, LLMModel, Run
from llm_research_lab.server.experiments.service import ExperimentService
from llm_research_lab.server.hub.models import HubModelService
from llm_research_lab.server.principal import Principal
from llm_research_lab.settings import Settings

PROVIDER_OF_BACKEND = {
    "lm-evaluation-harness": "lm_evaluation_harness",
    "native": "lm_evaluation_harness",
    "nemo-evaluator": "nemo_evaluator",
}
FAILED_RUN = {es.RunStatus.FAILED.value, es.RunStatus.TIMED_OUT.value}
TERMINAL_RUN = {s.value for s in es.TERMINAL_RUN_STATUSES}


@dataclass(slots=True)
class PlannedRun:
    evaluation: h.EvaluationSpec
    model: LLMModel
    backend_name: str
    backend_type: str
    benchmark: CatalogBenchmark
    benchmark_name: str
    limit: int | None
    num_fewshot: int | None


@dataclass(slots=True)
class RequestView:
    request: EvalRequest
    experiment: Experiment
    jobs: list[Job] = field(default_factory=list)
    runs: dict[uuid.UUID, Run] = field(default_factory=dict)


def derive_status(run_statuses: Sequence[str], cancelled: bool) -> h.HubStatus:
    if not run_statuses:
        return h.HubStatus.PENDING
    if all(s in TERMINAL_RUN for s in run_statuses):
        if all(s == es.RunStatus.COMPLETED.value for s in run_statuses):
            return h.HubStatus.COMPLETED
        if cancelled or not any(s in FAILED_RUN for s in run_statuses):
            return h.HubStatus.CANCELLED
        return h.HubStatus.FAILED
    if any(s not in (es.RunStatus.PENDING.value, es.RunStatus.QUEUED.value) for s in run_statuses):
        return h.HubStatus.RUNNING
    return h.HubStatus.PENDING


def _float_metrics(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, dict):
        return {}
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}


class HubEvaluationService:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        catalog: Catalog,
        executor: LocalExecutor | None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.catalog = catalog
        self.executor = executor
        self.experiments = ExperimentService(session)

    # ----------------------------------------------------------------------- planning

    def _catalog_benchmark(self, provider_id: str, benchmark_id: str, where: str) -> CatalogBenchmark:
        try:
            return self.catalog.benchmark(provider_id, benchmark_id)
        except UnknownCatalogIdError as exc:
            raise ValidationError.from_fields(
                {where: str(exc)}, f"Unknown benchmark '{benchmark_id}' for provider '{provider_id}': {exc}"
            ) from None

    def _check_runnable(self, backend_type: str, bench: CatalogBenchmark, where: str) -> None:
        if backend_type == "nemo-evaluator":
            # Runs in the job (engine.backends.nemo): catalog benchmarks with local data as
            # bring-your-own benchmarks; named NeMo tasks fail there with the reason, per result.
            return
        native = "native" in bench.backends and bench.benchmark_id in BENCHMARKS
        if not native:
            raise UnprocessableEntityError(
                f"Benchmark '{bench.benchmark_id}' needs the real lm-evaluation-harness, which is not "
                "installed on this server (pip install 'llm-research-lab[lmeval]')",
                details={"field": where, "benchmark_id": bench.benchmark_id},
            )
        if not bench.data_available and not self.settings.allow_hub_downloads:
            raise UnprocessableEntityError(
                f"No data for benchmark '{bench.benchmark_id}' on this server (set "
                "LAB_BENCHMARK_DATA_DIR, or LAB_ALLOW_HUB_DOWNLOADS=true)",
                details={"field": where, "benchmark_id": bench.benchmark_id},
            )

    @staticmethod
    def _check_nemo_config(cfg: dict[str, Any], where: str) -> None:
        """The nemo-evaluator config keys the backend cannot run without, checked before any row
        is created: a bad value is a 400 naming the field."""
        problems: dict[str, str] = {}
        mode = cfg.get("mode", "local")
        if mode not in ("local", "remote"):
            problems[f"{where}.mode"] = f"must be 'local' or 'remote', not {mode!r}"
        etype = cfg.get("endpoint_type", "chat")
        if etype not in ("chat", "completions"):
            problems[f"{where}.endpoint_type"] = f"must be 'chat' or 'completions', not {etype!r}"
        if mode == "remote" and not cfg.get("endpoint"):
            problems[f"{where}.endpoint"] = "is required in remote mode (the NeMo Evaluator service host)"
        for key in (
            "model_endpoint", "api_key_env", "endpoint", "namespace", "config_type", "service_api_key_env"
        ):  # fmt: skip
            if key in cfg and not isinstance(cfg[key], str):
                problems[f"{where}.{key}"] = "must be a string"
        if cfg.get("scheme", "http") not in ("http", "https"):
            problems[f"{where}.scheme"] = "must be 'http' or 'https'"
        poll = cfg.get("poll_interval_seconds")
        if poll is not None and (isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0):
            problems[f"{where}.poll_interval_seconds"] = "must be a positive number"
        for key in ("port", "parallelism", "limit_samples", "timeout_seconds", "max_retries"):
            value = cfg.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                problems[f"{where}.{key}"] = "must be a non-negative integer"
        if problems:
            raise ValidationError.from_fields(problems, "Invalid nemo-evaluator backend config")

    async def _model(self, name: str, where: str) -> LLMModel:
        models = HubModelService(self.session)
        row = await models.models.repo.get_by_slug(name)
        if row is None:
            raise NotFoundError(await models.not_found_message(name), details={"field": where})
        return row

    async def plan(self, req: h.EvaluationRequest) -> list[PlannedRun]:
        planned: list[PlannedRun] = []
        for i, ev in enumerate(req.evaluations):
            model = await self._model(ev.model_name, f"evaluations.{i}.model_name")
            if ev.risk_category is not None:
                risk = self.catalog.risk_category(ev.risk_category)
                for ref in risk.benchmarks:
                    where = f"evaluations.{i}.risk_category"
                    bench = self._catalog_benchmark(ref.provider_id, ref.benchmark_id, where)
                    self._check_runnable("native", bench, where)
                    cfg = {**risk.benchmark_config(), **(ref.config or {})}
                    planned.append(
                        PlannedRun(
                            ev,
                            model,
                            f"risk-{risk.name}",
                            "native",
                            bench,
                            bench.benchmark_id,
                            cfg.get("limit"),
                            cfg.get("num_fewshot"),
                        )
                    )
            for j, backend in enumerate(ev.backends):
                provider = PROVIDER_OF_BACKEND[backend.type]
                if backend.type == "nemo-evaluator":
                    self._check_nemo_config(backend.config, f"evaluations.{i}.backends.{j}.config")
                for k, spec in enumerate(backend.benchmarks):
                    for task in spec.tasks or [spec.name]:
                        where = f"evaluations.{i}.backends.{j}.benchmarks.{k}"
                        bench = self._catalog_benchmark(provider, task, where + ".tasks")
                        self._check_runnable(backend.type, bench, where)
                        limit = spec.config.get("limit", backend.config.get("limit_samples"))
                        planned.append(
                            PlannedRun(
                                ev,
                                model,
                                backend.name,
                                backend.type,
                                bench,
                                task,
                                int(limit) if limit is not None else None,
                                spec.config.get("num_fewshot"),
                            )
                        )
        return planned

    # ----------------------------------------------------------------------- submission

    async def _experiment_name(self, owner: uuid.UUID, wanted: str | None, rid: uuid.UUID, ev: str) -> str:
        name = (wanted or "").strip() or f"{ev} ({str(rid)[:8]})"
        if await self.experiments.repo.find_by_name(owner, name) is not None:
            name = f"{name[:240]} [{str(rid)[:8]}]"
        return name[:255]

    async def submit(self, principal: Principal, req: h.EvaluationRequest) -> h.EvaluationCreated:
        rid = req.request_id or uuid.uuid4()
        if await self.session.get(EvalRequest, rid) is not None:
            raise ConflictError(f"An evaluation with request_id {rid} already exists", existing_id=str(rid))
        planned = await self.plan(req)
        if not planned:
            raise ValidationError.from_fields({"evaluations": "No benchmarks resolved from the request"})
        # Everything is validated: from here on rows are created (and committed together).
        name = await self._experiment_name(
            principal.user_id, req.experiment_name, rid, req.evaluations[0].name
        )
        tags = [f"{k}:{v}" for k, v in req.tags.items()] + ["eval-hub"]
        exp = await self.experiments.create(
            principal,
            es.ExperimentCreate(
                name=name,
                description=req.evaluations[0].description,
                tags=tags,
                config=es.ExperimentConfig.model_validate(
                    {
                        "model_ids": list(dict.fromkeys(str(p.model.id) for p in planned)),
                        "benchmarks": list(dict.fromkeys(p.benchmark.benchmark_id for p in planned)),
                    }
                ),
                metadata={"source": "eval-hub", "hub_request_id": str(rid), "hub_tags": req.tags},
            ),
        )
        self.experiments.transition(exp, es.ExperimentStatus.RUNNING)
        request_row = EvalRequest(
            id=rid, experiment_id=exp.id, owner_id=principal.user_id, request=req.model_dump(mode="json")
        )
        self.session.add(request_row)
        await self.session.flush()
        for p in planned:
            ev = p.evaluation
            run = Run(
                experiment_id=exp.id,
                status=es.RunStatus.PENDING.value,
                config={
                    "evaluation": ev.name,
                    "model_id": p.model.slug,
                    "backend": p.backend_name,
                    "backend_type": p.backend_type,
                    "provider_id": p.benchmark.provider_id,
                    "benchmark_id": p.benchmark.benchmark_id,
                    "limit": p.limit,
                    "num_fewshot": p.num_fewshot,
                    "model_configuration": ev.model_configuration,
                    "timeout_minutes": ev.timeout_minutes,
                    "retry_attempts": ev.retry_attempts,
                },
                metadata_={"managed": True, "hub_request_id": str(rid), "benchmark_name": p.benchmark_name},
                started_at=None,
            )
            self.session.add(run)
            await self.session.flush()
            spec = BenchmarkJobSpec(
                model_id=str(p.model.id),
                model_slug=p.model.slug,
                benchmark_id=p.benchmark.benchmark_id,
                provider_id=p.benchmark.provider_id,
                backend_name=p.backend_name,
                backend_type=p.backend_type,
                evaluation_name=ev.name,
                limit=p.limit,
                num_fewshot=p.num_fewshot,
                model_configuration=ev.model_configuration,
            )
            total = p.limit if p.limit is not None else (p.benchmark.dataset_size or 0)
            if p.benchmark.dataset_size is not None:
                total = min(total, p.benchmark.dataset_size)
            self.session.add(
                store.new_job(
                    run,
                    kind="benchmark",
                    spec=spec.model_dump(mode="json"),
                    owner_id=principal.user_id,
                    request_id=rid,
                    max_attempts=ev.retry_attempts + 1,
                    timeout_s=ev.timeout_minutes * 60.0,
                    total=total,
                )
            )
        await self.session.flush()
        if self.executor is not None:
            self.executor.notify_after_commit(self.session)
        return h.EvaluationCreated(
            request_id=rid,
            status=h.HubStatus.PENDING,
            experiment_id=exp.id,
            experiment_url=self.experiment_url(exp.id),
            total_evaluations=len(planned),
            created_at=request_row.created_at,
        )

    async def submit_single(
        self, principal: Principal, provider_id: str, benchmark_id: str, body: h.SingleBenchmarkRequest
    ) -> h.EvaluationCreated:
        try:
            bench = self.catalog.benchmark(provider_id, benchmark_id)
        except UnknownCatalogIdError as exc:
            raise NotFoundError(str(exc).capitalize(), details={"suggestions": exc.suggestions}) from None
        backend_type = "nemo-evaluator" if bench.provider_id == "nemo_evaluator" else "native"
        config: dict[str, Any] = {}
        if body.limit is not None:
            config["limit"] = body.limit
        if body.num_fewshot is not None:
            config["num_fewshot"] = body.num_fewshot
        req = h.EvaluationRequest(
            request_id=body.request_id,
            experiment_name=body.experiment_name or f"{bench.name} - {body.model_name}",
            evaluations=[
                h.EvaluationSpec(
                    name=f"{bench.name} ({body.model_name})",
                    model_name=body.model_name,
                    model_configuration=body.model_configuration,
                    backends=[
                        h.BackendSpec(
                            name=provider_id,
                            type=backend_type,
                            benchmarks=[
                                h.BenchmarkSpec(name=benchmark_id, tasks=[benchmark_id], config=config)
                            ],
                        )
                    ],
                    timeout_minutes=body.timeout_minutes,
                    retry_attempts=body.retry_attempts,
                )
            ],
            tags=body.tags,
        )
        return await self.submit(principal, req)

    def experiment_url(self, experiment_id: uuid.UUID) -> str:
        return f"{self.settings.base_url.rstrip('/')}/ui/experiments/{experiment_id}"

    # ----------------------------------------------------------------------- reading

    async def _views(self, requests: Sequence[EvalRequest]) -> list[RequestView]:
        if not requests:
            return []
        ids = [r.id for r in requests]
        # Jobs and their runs come from ONE statement: under READ COMMITTED (PostgreSQL) every
        # statement takes its own snapshot, so two SELECTs could pair a job read before the worker's
        # commit with its run read after it (run completed, job result still empty).
        pairs = (
            await self.session.execute(
                select(Job, Run)
                .outerjoin(Run, Run.id == Job.run_id)
                .where(Job.request_id.in_(ids))
                .order_by(Job.created_at, Job.id)
            )
        ).all()
        jobs = [job for job, _ in pairs]
        runs = {run.id: run for _, run in pairs if run is not None}
        # Experiments are read after the jobs: they settle in the same transaction as the last job,
        # so this read is never older than the jobs it is shown with.
        exps = {
            e.id: e
            for e in (
                await self.session.execute(
                    select(Experiment).where(Experiment.id.in_([r.experiment_id for r in requests]))
                )
            ).scalars()
        }
        views = {r.id: RequestView(r, exps[r.experiment_id]) for r in requests if r.experiment_id in exps}
        for j in jobs:
            view = views.get(j.request_id) if j.request_id is not None else None
            if view is not None:
                view.jobs.append(j)
                if j.run_id in runs:
                    view.runs[j.run_id] = runs[j.run_id]
        return [views[r.id] for r in requests if r.id in views]

    def _status(self, view: RequestView) -> h.EvaluationStatus:
        results: list[h.BenchmarkResult] = []
        fractions: list[float] = []
        for job in view.jobs:
            run = view.runs.get(job.run_id)
            run_status = run.status if run is not None else job.status
            spec = job.spec
            done, total = job.progress_done, job.progress_total
            if run_status == es.RunStatus.COMPLETED.value or run_status in TERMINAL_RUN:
                fraction = 1.0
            else:
                fraction = min(1.0, done / total) if total else 0.0
            fractions.append(fraction)
            started = run.started_at if run is not None else job.started_at
            finished = run.completed_at if run is not None else job.finished_at
            results.append(
                h.BenchmarkResult(
                    benchmark_name=str(spec.get("benchmark_id", "")),
                    provider_id=spec.get("provider_id"),
                    evaluation_name=str(spec.get("evaluation_name", "")),
                    backend_name=str(spec.get("backend_name", "")),
                    backend_type=str(spec.get("backend_type", "")),
                    model_name=str(spec.get("model_slug", "")),
                    run_id=job.run_id,
                    status=run_status,
                    metrics=_float_metrics(job.result.get("metrics")),
                    method=job.result.get("method"),
                    progress=round(fraction * 100.0, 2),
                    samples_done=done,
                    samples_total=total,
                    samples=int(job.result.get("samples", done)),
                    attempts=job.attempts,
                    started_at=started,
                    completed_at=finished if run_status in TERMINAL_RUN else None,
                    duration_seconds=(finished - started).total_seconds()
                    if started is not None and finished is not None and run_status in TERMINAL_RUN
                    else None,
                    error=job.error if run_status != es.RunStatus.COMPLETED.value else None,
                )
            )
        statuses = [r.status for r in results]
        status = derive_status(statuses, view.request.cancelled_at is not None)
        updated = max([view.request.updated_at, *(j.updated_at for j in view.jobs)])
        return h.EvaluationStatus(
            request_id=view.request.id,
            experiment_name=view.experiment.name,
            status=status,
            progress_percentage=round(100.0 * sum(fractions) / len(fractions), 2) if fractions else 0.0,
            total_evaluations=len(results),
            completed_evaluations=statuses.count(es.RunStatus.COMPLETED.value),
            failed_evaluations=sum(1 for s in statuses if s in FAILED_RUN),
            cancelled_evaluations=statuses.count(es.RunStatus.CANCELLED.value),
            running_evaluations=statuses.count(es.RunStatus.RUNNING.value),
            results=results,
            experiment_id=view.experiment.id,
            experiment_url=self.experiment_url(view.experiment.id),
            tags=dict(view.request.request.get("tags") or {}),
            created_at=view.request.created_at,
            updated_at=updated,
            completed_at=view.experiment.completed_at,
        )

    async def _get_request(self, principal: Principal, request_id: uuid.UUID) -> EvalRequest:
        row = await self.session.get(EvalRequest, request_id)
        if row is None or (not principal.is_admin and row.owner_id != principal.user_id):
            raise NotFoundError(f"Evaluation request {request_id} not found")
        return row

    async def status(self, principal: Principal, request_id: uuid.UUID) -> h.EvaluationStatus:
        row = await self._get_request(principal, request_id)
        views = await self._views([row])
        if not views:
            raise NotFoundError(f"Evaluation request {request_id} not found")
        return self._status(views[0])

    async def list_requests(
        self, principal: Principal, status: h.HubStatus | None, limit: int
    ) -> list[h.EvaluationStatus]:
        stmt = select(EvalRequest).order_by(EvalRequest.created_at.desc(), EvalRequest.id.desc())
        if not principal.is_admin:
            stmt = stmt.where(EvalRequest.owner_id == principal.user_id)
        out: list[h.EvaluationStatus] = []
        batch, offset = max(limit, 50), 0
        while len(out) < limit:
            rows = list((await self.session.execute(stmt.offset(offset).limit(batch))).scalars())
            if not rows:
                break
            offset += len(rows)
            for view in await self._views(rows):
                st = self._status(view)
                if status is None or st.status == status:
                    out.append(st)
            if status is None or len(rows) < batch:
                break
        return out[:limit]

    async def cancel(self, principal: Principal, request_id: uuid.UUID) -> h.HubMessage:
        row = await self._get_request(principal, request_id)
        jobs = list((await self.session.execute(select(Job).where(Job.request_id == row.id))).scalars())
        if all(j.status in store.TERMINAL_JOB_STATUSES for j in jobs):
            raise ConflictError(
                f"Evaluation request {request_id} has already finished; nothing to cancel",
                current_status=self._status((await self._views([row]))[0]).status.value,
            )
        row.cancelled_at = utcnow()
        row.updated_at = row.cancelled_at
        stopped = await store.cancel_jobs(self.session, jobs)
        await store.settle_experiment(self.session, row.experiment_id)
        executor = self.executor
        if executor is not None and stopped:
            from sqlalchemy import event

            event.listen(
                self.session.sync_session, "after_commit", lambda _s: executor.cancel(stopped), once=True
            )
        return h.HubMessage(
            message=f"Evaluation request {request_id} cancelled ({len(stopped)} running or queued)"
        )

    async def run_ids(self, principal: Principal, request_id: uuid.UUID) -> list[uuid.UUID]:
        row = await self._get_request(principal, request_id)
        rows = await self.session.execute(select(Job.run_id).where(Job.request_id == row.id))
        return [r for (r,) in rows.all()]

    async def system_metrics(self, principal: Principal, uptime: float) -> h.SystemMetrics:
        from llm_research_lab.server.hub.system import system_metrics

        return await system_metrics(self, principal, uptime)

    async def count_requests(self) -> int:
        return int((await self.session.execute(select(func.count()).select_from(EvalRequest))).scalar_one())
