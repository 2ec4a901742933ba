"""Runs: config_overrides deep-merged over the experiment config, status transitions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import ConflictError, NotFoundError, ValidationError
from llm_research_lab.schemas import experiments as s
from llm_research_lab.server.db.base import utcnow
from llm_research_lab.server.db.models import Experiment, Run
from llm_research_lab.server.experiments.service import ExperimentService
from llm_research_lab.server.experiments.state import check_run_transition
from llm_research_lab.server.jsonmerge import deep_merge
from llm_research_lab.server.principal import Principal
from llm_research_lab.server.runs.repository import RunRepository

# Called after a run row is created; the engine (when installed) decides whether the run is
# managed (executed by the server) and enqueues it. Returns True when it took the run.
RunLauncher = Callable[[AsyncSession, Experiment, Run], Awaitable[bool]]

CLOSED_EXPERIMENT = {s.ExperimentStatus.COMPLETED, s.ExperimentStatus.FAILED, s.ExperimentStatus.ARCHIVED}


def to_schema(row: Run) -> s.Run:
    return s.Run(
        id=row.id,
        experiment_id=row.experiment_id,
        status=s.RunStatus(row.status),
        config=dict(row.config),
        config_overrides=dict(row.config_overrides),
        metadata=dict(row.metadata_),
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        error=row.error,
        managed=bool(row.metadata_.get("managed", False)),
    )


class RunService:
    def __init__(self, session: AsyncSession, launcher: RunLauncher | None = None) -> None:
        self.session = session
        self.experiments = ExperimentService(session)
        self.launcher = launcher
        self.repo = RunRepository(session)

    async def create(self, principal: Principal, experiment_id: uuid.UUID, data: s.RunCreate) -> Run:
        exp = await self.experiments.get_visible(principal, experiment_id, "experiments:execute")
        if s.ExperimentStatus(exp.status) in CLOSED_EXPERIMENT:
            raise ConflictError(
                f"Cannot create a run: experiment is {exp.status}",
                current_status=exp.status,
            )
        merged = deep_merge(exp.config, data.config_overrides)
        self._validate_config(merged)
        run = Run(
            experiment_id=exp.id,
            status=s.RunStatus.PENDING.value,
            config=merged,
            config_overrides=data.config_overrides,
            metadata_=dict(data.metadata),
        )
        await self.repo.add(run)
        if self.launcher is not None and await self.launcher(self.session, exp, run):
            run.metadata_ = {**run.metadata_, "managed": True}
            await self.session.flush()
        return run

    @staticmethod
    def _validate_config(config: dict[str, Any]) -> None:
        try:
            s.ExperimentConfig.model_validate(config)
        except PydanticValidationError as exc:
            fields = {
                "config_overrides." + ".".join(str(p) for p in e["loc"]): e["msg"].removeprefix(
                    "Value error, "
                )
                for e in exc.errors()
            }
            raise ValidationError.from_fields(fields) from exc

    async def get(self, principal: Principal, experiment_id: uuid.UUID, run_id: uuid.UUID) -> Run:
        await self.experiments.get_visible(principal, experiment_id, "experiments:read")
        return await self._get(experiment_id, run_id)

    async def _get(self, experiment_id: uuid.UUID, run_id: uuid.UUID) -> Run:
        run = await self.repo.get(experiment_id, run_id)
        if run is None:
            raise NotFoundError.of("Run", run_id)
        return run

    async def finish(
        self,
        principal: Principal,
        experiment_id: uuid.UUID,
        run_id: uuid.UUID,
        target: s.RunStatus,
        error: str | None = None,
    ) -> Run:
        await self.experiments.get_visible(principal, experiment_id, "experiments:write")
        run = await self._get(experiment_id, run_id)
        self.transition(run, target, error=error)
        await self.session.flush()
        return run

    @staticmethod
    def transition(run: Run, target: s.RunStatus, *, error: str | None = None) -> None:
        check_run_transition(s.RunStatus(run.status), target)
        now = utcnow()
        run.status = target.value
        if target is s.RunStatus.RUNNING and run.started_at is None:
            run.started_at = now
        if target in s.TERMINAL_RUN_STATUSES:
            run.completed_at = now
        if error is not None:
            run.error = error
        run.updated_at = now
