"""Evaluation records and experiment-level metric aggregation (computed in SQL)."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import NotFoundError, PermissionDeniedError, ValidationError
from llm_research_lab.schemas import evaluations as s
from llm_research_lab.schemas.experiments import ExperimentMetrics, MetricAggregate, RunMetrics
from llm_research_lab.server.db.models import Evaluation, EvaluationMetric, Experiment, Run
from llm_research_lab.server.experiments.service import ExperimentService
from llm_research_lab.server.principal import Principal


def to_schema(row: Evaluation) -> s.Evaluation:
    return s.Evaluation(
        id=row.id,
        experiment_id=row.experiment_id,
        run_id=row.run_id,
        metrics=dict(row.metrics),
        metadata=dict(row.metadata_),
        created_at=row.created_at,
    )


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


class EvaluationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.experiments = ExperimentService(session)

    async def record(
        self,
        experiment_id: uuid.UUID,
        run_id: uuid.UUID,
        metrics: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> Evaluation:
        """Store an evaluation and its numeric metrics (also used by the engine)."""
        row = Evaluation(
            experiment_id=experiment_id, run_id=run_id, metrics=metrics, metadata_=metadata or {}
        )
        self.session.add(row)
        await self.session.flush()
        self.session.add_all(
            [
                EvaluationMetric(
                    evaluation_id=row.id,
                    name=k,
                    experiment_id=experiment_id,
                    run_id=run_id,
                    value=v,
                    ordinal=i,
                )
                for i, (k, v) in enumerate(numeric_metrics(metrics).items())
            ]
        )
        await self.session.flush()
        return row

    async def create(self, principal: Principal, data: s.EvaluationCreate) -> Evaluation:
        await self.experiments.get_visible(principal, data.experiment_id, "experiments:write")
        run = await self.session.get(Run, data.run_id)
        if run is None:
            raise NotFoundError.of("Run", data.run_id)
        if run.experiment_id != data.experiment_id:
            raise ValidationError.from_fields({"run_id": "Run does not belong to this experiment"})
        bad = [k for k, v in data.metrics.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise ValidationError.from_fields({f"metrics.{k}": "Must be a finite number" for k in bad})
        return await self.record(data.experiment_id, data.run_id, data.metrics, data.metadata)

    async def get(self, principal: Principal, evaluation_id: uuid.UUID) -> Evaluation:
        row = await self.session.get(Evaluation, evaluation_id)
        if row is None:
            raise NotFoundError.of("Evaluation", evaluation_id)
        exp = await self.session.get(Experiment, row.experiment_id)
        if exp is None:
            raise NotFoundError.of("Evaluation", evaluation_id)
        try:
            await self.experiments.authorize(principal, exp, "experiments:read")
        except PermissionDeniedError:
            # Do not reveal that an evaluation of someone else's experiment exists.
            raise NotFoundError.of("Evaluation", evaluation_id) from None
        return row

    async def list_stmt(
        self, principal: Principal, experiment_id: uuid.UUID | None, run_id: uuid.UUID | None
    ) -> Select[Evaluation]:
        stmt = select(Evaluation)
        if experiment_id is not None:
            await self.experiments.get_visible(principal, experiment_id, "experiments:read")
            stmt = stmt.where(Evaluation.experiment_id == experiment_id)
        elif not principal.is_admin:
            visible = self.experiments.repo.list_stmt(principal).with_only_columns(Experiment.id)
            stmt = stmt.where(Evaluation.experiment_id.in_(visible))
        if run_id is not None:
            stmt = stmt.where(Evaluation.run_id == run_id)
        return stmt

    async def experiment_metrics(
        self, principal: Principal, experiment_id: uuid.UUID, *, include_runs: bool = True
    ) -> ExperimentMetrics:
        await self.experiments.get_visible(principal, experiment_id, "experiments:read")
        m = EvaluationMetric
        agg = (
            select(
                m.name,
                func.avg(m.value),
                func.min(m.value),
                func.max(m.value),
                func.count(m.value),
                func.sum(m.value * m.value),
            )
            .where(m.experiment_id == experiment_id)
            .group_by(m.name)
            .order_by(m.name)
        )
        aggregated: dict[str, MetricAggregate] = {}
        for name, mean, lo, hi, count, sumsq in (await self.session.execute(agg)).all():
            std: float | None = None
            if count > 1:
                variance = (float(sumsq) - count * float(mean) ** 2) / (count - 1)
                std = math.sqrt(max(variance, 0.0))
            aggregated[name] = MetricAggregate(
                mean=float(mean), std=std, min=float(lo), max=float(hi), count=int(count)
            )
        per_run: dict[uuid.UUID, dict[str, Any]] = {}
        if not include_runs:
            return ExperimentMetrics(experiment_id=experiment_id, aggregated_metrics=aggregated, runs=[])
        rows = await self.session.execute(
            select(Evaluation.run_id, Evaluation.metrics)
            .where(Evaluation.experiment_id == experiment_id)
            .order_by(Evaluation.created_at, Evaluation.id)
        )
        for run_id, metrics in rows.all():
            per_run.setdefault(run_id, {}).update(metrics)
        return ExperimentMetrics(
            experiment_id=experiment_id,
            aggregated_metrics=aggregated,
            runs=[RunMetrics(run_id=r, metrics=v) for r, v in per_run.items()],
        )
