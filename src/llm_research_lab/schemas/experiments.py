"""Experiments, runs and their status tables' wire types."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    ARCHIVED = "archived"


class RunStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


TERMINAL_RUN_STATUSES = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT}
)


def _range(label: str, low: float, high: float, *, low_open: bool = False) -> Any:
    def check(value: float | None) -> float | None:
        if value is None:
            return value
        if value < low or value > high or (low_open and value == low):
            raise ValueError(f"{label} must be between {low:g} and {high:g}")
        return value

    return check


class Parameters(BaseModel):
    """Generation parameters. Unknown keys are kept (provider-specific knobs)."""

    model_config = ConfigDict(extra="allow")

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None

    _t = field_validator("temperature")(_range("Temperature", 0, 2))
    _p = field_validator("top_p")(_range("top_p", 0, 1))

    @field_validator("max_tokens")
    @classmethod
    def _max_tokens(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("max_tokens must be greater than 0")
        return value


class ExperimentConfig(BaseModel):
    """What an experiment runs. Unknown keys are kept for tracked (client-driven) experiments."""

    model_config = ConfigDict(extra="allow")

    model_ids: list[UUID] | None = None
    dataset_ids: list[UUID] | None = None
    dataset_versions: dict[str, str] | None = Field(
        default=None, description="dataset id -> version used; filled in when the experiment starts"
    )
    prompt_template_ids: list[UUID] | None = None
    parameters: Parameters | None = None
    evaluation_metrics: list[str] | None = None
    num_samples: int | None = None
    random_seed: int | None = None

    @field_validator("num_samples")
    @classmethod
    def _num_samples(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise ValueError("num_samples must be greater than 0")
        return value


def _name(value: str | None) -> str | None:
    if value is not None and not (len(value.strip()) >= 1 and len(value) <= 255):
        raise ValueError("Name must be between 1 and 255 characters")
    return value


class ExperimentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str | None = None
    hypothesis: str | None = None
    owner_id: UUID | None = None
    collaborators: list[UUID] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    config: ExperimentConfig = Field(default_factory=ExperimentConfig)
    metadata: dict[str, Any] = Field(default_factory=dict)

    _n = field_validator("name")(_name)


class ExperimentUpdate(BaseModel):
    """Partial update: only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    hypothesis: str | None = None
    collaborators: list[UUID] | None = None
    tags: list[str] | None = None
    config: ExperimentConfig | None = None
    metadata: dict[str, Any] | None = None
    status: ExperimentStatus | None = None

    _n = field_validator("name")(_name)


class Experiment(BaseModel):
    id: UUID
    name: str
    description: str | None = None
    hypothesis: str | None = None
    owner_id: UUID
    collaborators: list[UUID] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    status: ExperimentStatus
    config: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    archived_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExperimentStarted(BaseModel):
    id: UUID
    status: ExperimentStatus
    started_at: datetime | None


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config_overrides: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class RunFail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: str = Field(min_length=1, max_length=10_000)


class Run(BaseModel):
    id: UUID
    experiment_id: UUID
    status: RunStatus
    config: dict[str, Any] = Field(default_factory=dict)
    config_overrides: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error: str | None = None
    managed: bool = Field(default=False, description="True when the engine executes this run.")


class MetricAggregate(BaseModel):
    mean: float
    std: float | None
    min: float
    max: float
    count: int


class RunMetrics(BaseModel):
    run_id: UUID
    metrics: dict[str, Any]


class ExperimentMetrics(BaseModel):
    experiment_id: UUID
    aggregated_metrics: dict[str, MetricAggregate]
    runs: list[RunMetrics]
