"""One attempt of a job: build the model client and the benchmark, run the engine against the
ledger, and turn the result into Evaluation metrics. Knows nothing of the executor's loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llm_research_lab.catalog import Catalog, CatalogError, load_catalog
from llm_research_lab.engine.benchmarks import BenchmarkError, CustomDatasetBenchmark, CustomDatasetSpec
from llm_research_lab.engine.metrics.perf import Pricing, cost, latency_percentiles
from llm_research_lab.engine.models import (
    CapabilityError,
    FailureBudgetExceeded,
    ModelClient,
    ModelClientError,
    ModelConfigError,
    ModelRequestError,
    create_client,
)
from llm_research_lab.engine.registry import METRICS, UnknownPluginError, create_benchmark
from llm_research_lab.engine.runner import BenchmarkRunResult, run_benchmark
from llm_research_lab.engine.sandbox import run_python
from llm_research_lab.jobs.ledger import LedgerSink, ledger_serving_stats
from llm_research_lab.jobs.spec import BenchmarkJobSpec, LabJobSpec, LabSource, model_spec
from llm_research_lab.jobs.store import Outcome
from llm_research_lab.server.db.models import EvalRequest, Job, LLMModel, PromptTemplate
from llm_research_lab.settings import Settings

log = logging.getLogger("llm_research_lab.jobs")

# (session, dataset_id, version or None) -> rows. Registered by the datasets domain under
# app.state.lab.extras["dataset_rows"]; Research Lab runs over datasets need it.
DatasetRows = Callable[[AsyncSession, uuid.UUID, str | None], Awaitable[Sequence[Mapping[str, Any]]]]
Progress = Callable[[int, int], Awaitable[None]]

# Research Lab metric names -> the text metrics the engine registers.
METRIC_ALIASES = {
    "accuracy": "accuracy",
    "exact_match": "exact_match",
    "em": "exact_match",
    "rouge": "rougeL",
}
# Eval Hub backend types run by an external harness (engine.backends) rather than the native engine.
EXTERNAL_BACKENDS = frozenset({"lm-evaluation-harness", "nemo-evaluator"})
PERF_METRICS = {"latency", "latency_percentiles", "tokens_per_second", "total_tokens", "cost", "cost_usd"}


def sandboxed_execute(program: str, timeout: float) -> bool:
    """Model-generated code runs only in the sandbox (own namespaces, rlimits, nobody, no network)."""
    return run_python(program, timeout_s=timeout).passed


def benchmark_options(benchmark_id: str) -> dict[str, Any]:
    return {"execute": sandboxed_execute} if benchmark_id == "humaneval" else {}


@dataclass(slots=True)
class JobEnv:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    dataset_rows: DatasetRows | None = None
    environ: Mapping[str, str] | None = None

    @property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings.benchmark_data_dir)

    def resolver_source(self, benchmark_id: str) -> Any:
        resolver = self.catalog.resolver(
            data_dir=self.settings.benchmark_data_dir,
            allow_hub=self.settings.allow_hub_downloads,
            cache_dir=self.settings.data_dir / "benchmarks",
        )
        return resolver.source(benchmark_id)


def _approx_bytes(docs: Sequence[Any]) -> int:
    sample = docs[: min(len(docs), 200)]
    if not sample:
        return 0
    each = sum(len(json.dumps(d, default=str)) for d in sample) / len(sample)
    return int(each * len(docs) * 3)  # Python objects weigh about three times their JSON


def serving_metrics(stats: Mapping[str, Any], wall_seconds: float, pricing: Any) -> dict[str, float]:
    """Latency percentiles over every ledger sample (resumed attempts included), token totals,
    throughput of this attempt and cost from the model's config.pricing."""
    out = {f"latency_{k}_ms": v for k, v in latency_percentiles(stats["latencies_ms"]).items()}
    p_tok, c_tok = int(stats["prompt_tokens"]), int(stats["completion_tokens"])
    out["prompt_tokens"] = float(p_tok)
    out["completion_tokens"] = float(c_tok)
    out["total_tokens"] = float(p_tok + c_tok)
    out["tokens_per_second"] = (p_tok + c_tok) / wall_seconds if wall_seconds > 0 else 0.0
    out["cost_usd"] = cost(
        p_tok, c_tok, Pricing.from_mapping(pricing if isinstance(pricing, Mapping) else None)
    )
    return out


def _failure(exc: BaseException) -> Outcome:
    """Map an engine error to a failed attempt; deterministic errors are not retried."""
    deterministic = (ModelConfigError, CapabilityError, BenchmarkError, CatalogError, UnknownPluginError)
    retryable = not isinstance(exc, deterministic)
    if isinstance(exc, ModelRequestError) and exc.fatal:
        retryable = False
    if isinstance(exc, FailureBudgetExceeded):
        retryable = True
    return Outcome(status="failed", error=f"{type(exc).__name__}: {exc}", retryable=retryable)


def _outcome_of(result: BenchmarkRunResult) -> Outcome | None:
    if result.status == "cancelled":
        return Outcome(status="cancelled", error="Cancelled", result={"partial_metrics": result.metrics})
    if result.num_failed:
        return Outcome(
            status="failed",
            error=(
                f"{result.num_failed} of {result.num_docs} documents failed; last error: {result.last_error}"
            ),
            retryable=True,
            result={"partial_metrics": result.metrics},
        )
    return None


class Attempt:
    """Runs one attempt of `job`; `track_memory(job_id, bytes)` lets the executor report usage."""

    def __init__(
        self,
        env: JobEnv,
        job: Job,
        cancel: asyncio.Event,
        progress: Progress,
        track_memory: Callable[[int], None] | None = None,
    ) -> None:
        self.env = env
        self.job = job
        self.cancel = cancel
        self.progress = progress
        self.track_memory = track_memory or (lambda _n: None)

    async def run(self) -> Outcome:
        try:
            if self.job.kind == "benchmark":
                return await self._benchmark(BenchmarkJobSpec.model_validate(self.job.spec))
            if self.job.kind == "lab":
                return await self._lab(LabJobSpec.model_validate(self.job.spec))
            return Outcome(status="failed", error=f"unknown job kind {self.job.kind!r}")
        except (
            ModelClientError,
            BenchmarkError,
            CatalogError,
            UnknownPluginError,
            FailureBudgetExceeded,
        ) as exc:
            return _failure(exc)

    async def _model(self, model_id: str) -> LLMModel | None:
        async with self.env.sessionmaker() as session:
            return await session.get(LLMModel, uuid.UUID(model_id))

    def _client(self, row: LLMModel, overrides: Mapping[str, Any] | None) -> ModelClient:
        return create_client(model_spec(row, overrides), environ=self.env.environ)

    async def _run(
        self,
        bench: Any,
        docs: Sequence[Any],
        client: ModelClient,
        sink: LedgerSink,
        *,
        offset: int,
        grand_total: int,
        limit: int | None,
        num_fewshot: int,
        source: Any,
    ) -> BenchmarkRunResult:
        progress = self.progress

        class Report:
            async def __call__(
                self, benchmark: str, done: int, total: int, running: Mapping[str, float]
            ) -> None:
                await progress(offset + done, grand_total)

        report = Report()

        return await run_benchmark(
            bench,
            docs,
            client,
            sink,
            progress=report,
            cancel=self.cancel,
            limit=limit,
            num_fewshot=num_fewshot,
            source=source,
        )

    # ----------------------------------------------------------------------- Eval Hub benchmark

    async def _benchmark(self, spec: BenchmarkJobSpec) -> Outcome:
        row = await self._model(spec.model_id)
        if row is None:
            return Outcome(status="failed", error=f"model {spec.model_slug!r} no longer exists")
        if spec.backend_type in EXTERNAL_BACKENDS:
            return await self._external(spec, row)
        bench = create_benchmark(spec.benchmark_id, **benchmark_options(spec.benchmark_id))
        source = self.env.resolver_source(spec.benchmark_id)
        docs = await asyncio.to_thread(lambda: list(bench.docs(source)))
        total = len(docs) if spec.limit is None else min(spec.limit, len(docs))
        shots = bench.default_num_fewshot if spec.num_fewshot is None else spec.num_fewshot
        if shots > 0 and total:
            # Loads the few-shot pool off the event loop (the producer then finds it cached).
            await asyncio.to_thread(bench.fewshot_docs, source, shots, 0, docs[0])
        self.track_memory(_approx_bytes(docs))
        client = self._client(row, spec.model_configuration)
        sink = LedgerSink(self.env.sessionmaker, self.job.run_id)
        started = asyncio.get_running_loop().time()
        try:
            result = await self._run(
                bench,
                docs,
                client,
                sink,
                offset=0,
                grand_total=total,
                limit=total,
                num_fewshot=shots,
                source=source,
            )
        finally:
            await client.aclose()
        wall = asyncio.get_running_loop().time() - started
        early = _outcome_of(result)
        if early is not None:
            return early
        async with self.env.sessionmaker() as session:
            stats = await ledger_serving_stats(session, self.job.run_id)
        metrics = dict(result.metrics)
        metrics.update(serving_metrics(stats, wall, row.config.get("pricing")))
        metrics["num_samples"] = float(result.num_docs)
        meta = {
            "benchmark_id": spec.benchmark_id,
            "provider_id": spec.provider_id,
            "backend": spec.backend_name,
            "backend_type": spec.backend_type,
            "executed_by": "native",
            "method": result.method,
            "model_id": spec.model_slug,
            "num_fewshot": shots,
            "limit": spec.limit,
            "num_docs": result.num_docs,
            "num_resumed": result.num_resumed,
        }
        return Outcome(
            status="completed",
            evaluations=[(metrics, meta)],
            result={
                "metrics": metrics,
                "method": result.method,
                "samples": stats["samples"],
                "num_docs": result.num_docs,
                "num_resumed": result.num_resumed,
                "wall_seconds": wall,
            },
        )

    # ----------------------------------------------------------------------- external backends

    async def _backend_configs(self, spec: BenchmarkJobSpec) -> tuple[dict[str, Any], dict[str, Any]]:
        """(backends[i].config, benchmarks[j].config) of this job's entry in its Eval Hub request.

        Read from the stored request rather than copied into the job spec, so jobs queued before a
        config key existed still see it, and the request stays the one place the config lives.
        """
        if self.job.request_id is None:
            return {}, {}
        async with self.env.sessionmaker() as session:
            req = await session.get(EvalRequest, self.job.request_id)
        body: Mapping[str, Any] = req.request if req is not None else {}
        for ev in body.get("evaluations") or []:
            if ev.get("name") != spec.evaluation_name:
                continue
            for be in ev.get("backends") or []:
                if be.get("name") != spec.backend_name or be.get("type") != spec.backend_type:
                    continue
                for bench in be.get("benchmarks") or []:
                    if spec.benchmark_id in (bench.get("tasks") or [bench.get("name")]):
                        return dict(be.get("config") or {}), dict(bench.get("config") or {})
                return dict(be.get("config") or {}), {}
        return {}, {}

    async def _external(self, spec: BenchmarkJobSpec, row: LLMModel) -> Outcome:
        """Run the benchmark with an external harness (``engine.backends``): lm-evaluation-harness
        or NeMo Evaluator, with the job's cancel event; the job's timeout bounds the harness too."""
        import llm_research_lab.engine.backends as backends  # registers the backends
        from llm_research_lab.engine.registry import BACKENDS

        backend_cfg, bench_cfg = await self._backend_configs(spec)
        cfg = dict(backend_cfg)
        if "parallelism" in cfg and "num_concurrent" not in cfg:
            cfg["num_concurrent"] = cfg["parallelism"]
        if self.job.timeout_s and "timeout_seconds" not in cfg:
            cfg["timeout_seconds"] = self.job.timeout_s
        extra = {k: v for k, v in bench_cfg.items() if k not in ("limit", "num_fewshot")}
        task = backends.BackendTask(spec.benchmark_id, spec.num_fewshot, spec.limit, config=extra)
        resolver = self.env.catalog.resolver(
            data_dir=self.env.settings.benchmark_data_dir,
            allow_hub=self.env.settings.allow_hub_downloads,
            cache_dir=self.env.settings.data_dir / "benchmarks",
        )
        # The harness subprocess needs a whole environment (PATH, HOME); runtime models and API keys
        # given to the app (tests pass their own mapping) win over the process environment.
        environ = {**os.environ, **(self.env.environ or {})}
        progress = self.progress

        class Report:
            async def __call__(
                self, benchmark: str, done: int, total: int, running: Mapping[str, float]
            ) -> None:
                await progress(done, total)

        sink = LedgerSink(self.env.sessionmaker, self.job.run_id)
        started = asyncio.get_running_loop().time()
        try:
            backend = BACKENDS[spec.backend_type](cfg, resolver=resolver, environ=environ)
            result = await backend.run(
                model_spec(row, spec.model_configuration), task, sink, progress=Report(), cancel=self.cancel
            )
        except backends.BackendTimeoutError as exc:
            return Outcome(status="timed_out", error=f"{type(exc).__name__}: {exc}")
        except backends.BackendProcessError as exc:
            return Outcome(status="failed", error=f"{type(exc).__name__}: {exc}", retryable=True)
        except (backends.BackendError, ModelClientError) as exc:
            # Config, unsupported task, missing package or data: the same on every attempt.
            return Outcome(status="failed", error=f"{type(exc).__name__}: {exc}", retryable=False)
        wall = asyncio.get_running_loop().time() - started
        early = _outcome_of(result)
        if early is not None:
            return early
        async with self.env.sessionmaker() as session:
            stats = await ledger_serving_stats(session, self.job.run_id)
        metrics = dict(result.metrics)
        metrics["num_samples"] = float(result.num_docs)
        details = dict(result.details)
        meta = {
            "benchmark_id": spec.benchmark_id,
            "provider_id": spec.provider_id,
            "backend": spec.backend_name,
            "backend_type": spec.backend_type,
            "executed_by": result.backend or spec.backend_type,
            "backend_version": details.get("version") or details.get("lm_eval_version"),
            "lm_eval_version": details.get("lm_eval_version"),
            "method": result.method,
            "model_id": spec.model_slug,
            "num_fewshot": details.get("num_fewshot", spec.num_fewshot),
            "limit": spec.limit,
            "num_docs": result.num_docs,
            "num_resumed": result.num_resumed,
            "backend_details": {k: v for k, v in details.items() if k not in ("raw_metrics", "versions")},
        }
        return Outcome(
            status="completed",
            evaluations=[(metrics, meta)],
            result={
                "metrics": metrics,
                "method": result.method,
                "samples": stats["samples"],
                "num_docs": result.num_docs,
                "num_resumed": result.num_resumed,
                "wall_seconds": wall,
                "executed_by": meta["executed_by"],
                "backend_version": meta["backend_version"],
            },
        )

    # ----------------------------------------------------------------------- Research Lab run

    async def _lab_docs(
        self, spec: LabJobSpec, src: LabSource, template: PromptTemplate | None
    ) -> tuple[Any, list[Any], Any, str]:
        """(benchmark, docs, data source, label) for one source x template."""
        text_metrics = [METRIC_ALIASES.get(m, m) for m in spec.evaluation_metrics if m not in PERF_METRICS]
        text_metrics = [m for m in dict.fromkeys(text_metrics) if m in METRICS] or ["exact_match"]
        if src.kind == "benchmark" and template is None:
            bench = create_benchmark(src.id)
            source = self.env.resolver_source(src.id)
            docs = await asyncio.to_thread(lambda: list(bench.docs(source)))
            return bench, docs, source, src.id
        if src.kind == "benchmark":
            source = self.env.resolver_source(src.id)
            split = self.env.catalog.find_benchmark(src.id)[0].eval_split or "test"
            rows = await asyncio.to_thread(lambda: list(source.rows(split)))
        else:
            if self.env.dataset_rows is None:
                raise BenchmarkError("datasets are not available on this server (no dataset store installed)")
            async with self.env.sessionmaker() as session:
                rows = list(await self.env.dataset_rows(session, uuid.UUID(src.id), src.version))
        tpl = template.template if template is not None else "{{ prompt if prompt is defined else input }}"
        params = spec.parameters
        bench = CustomDatasetBenchmark(
            CustomDatasetSpec(
                id=f"{src.id}" + (f"@{str(template.id)[:8]}" if template is not None else ""),
                template=tpl,
                metrics=tuple(text_metrics),
                target_field=spec.target_field,
                max_gen_toks=int(params.get("max_tokens") or 256),
                temperature=float(params.get("temperature") or 0.0),
                extra_vars=dict(template.default_values) if template is not None else {},
            )
        )
        from llm_research_lab.engine.benchmarks import InMemorySource

        return bench, rows, InMemorySource({"test": rows}), src.id

    async def _lab(self, spec: LabJobSpec) -> Outcome:
        async with self.env.sessionmaker() as session:
            models = {
                str(m.id): m
                for m in (
                    await session.execute(
                        select(LLMModel).where(LLMModel.id.in_([uuid.UUID(i) for i in spec.model_ids]))
                    )
                ).scalars()
            }
            templates: list[PromptTemplate | None] = list(
                (
                    await session.execute(
                        select(PromptTemplate).where(
                            PromptTemplate.id.in_([uuid.UUID(t) for t in spec.prompt_template_ids])
                        )
                    )
                ).scalars()
            ) or [None]
        missing = [m for m in spec.model_ids if m not in models]
        if missing:
            return Outcome(status="failed", error=f"models not found: {', '.join(missing)}")
        plans: list[tuple[LLMModel, Any, list[Any], Any, str, PromptTemplate | None]] = []
        for src in spec.sources:
            for template in templates:
                bench, docs, source, label = await self._lab_docs(spec, src, template)
                if spec.random_seed is not None:
                    order = list(range(len(docs)))
                    random.Random(spec.random_seed).shuffle(order)
                    docs = [docs[i] for i in order]
                if spec.num_samples is not None:
                    docs = docs[: spec.num_samples]
                for model_id in spec.model_ids:
                    plans.append((models[model_id], bench, docs, source, label, template))
        self.track_memory(sum(_approx_bytes(p[2]) for p in plans))
        grand_total = sum(len(p[2]) for p in plans)
        offset = 0
        evaluations: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for row, bench, docs, source, label, template in plans:
            prefix = (
                f"{row.slug}/{label}/{str(template.id)[:8] if template else '-'}/" if len(plans) > 1 else ""
            )
            shots = spec.num_fewshot if spec.num_fewshot is not None else 0
            if template is None and shots > 0 and docs:
                await asyncio.to_thread(bench.fewshot_docs, source, shots, 0, docs[0])
            client = self._client(row, spec.parameters)
            sink = LedgerSink(self.env.sessionmaker, self.job.run_id, prefix=prefix)
            started = asyncio.get_running_loop().time()
            try:
                result = await self._run(
                    bench,
                    docs,
                    client,
                    sink,
                    offset=offset,
                    grand_total=grand_total,
                    limit=len(docs),
                    num_fewshot=shots,
                    source=source if template is None else None,
                )
            finally:
                await client.aclose()
            wall = asyncio.get_running_loop().time() - started
            early = _outcome_of(result)
            if early is not None:
                return early
            offset += len(docs)
            async with self.env.sessionmaker() as session:
                stats = await ledger_serving_stats(session, self.job.run_id, prefix or None)
            metrics = dict(result.metrics)
            metrics.update(serving_metrics(stats, wall, row.config.get("pricing")))
            metrics["num_samples"] = float(result.num_docs)
            evaluations.append(
                (
                    metrics,
                    {
                        "model_id": str(row.id),
                        "model_slug": row.slug,
                        "source": label,
                        "prompt_template_id": str(template.id) if template else None,
                        "method": result.method,
                        "num_docs": result.num_docs,
                        "ledger_prefix": prefix,
                    },
                )
            )
        return Outcome(
            status="completed",
            evaluations=evaluations,
            result={
                "metrics": evaluations[0][0] if len(evaluations) == 1 else {},
                "evaluations": len(evaluations),
            },
        )
