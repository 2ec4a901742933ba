"""Eval Hub (/api/v1) wire types, with the field names of the Eval Hub notebook (seed 003)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HubModelType = Literal[
    "openai-compatible", "openai", "vllm", "ollama", "anthropic", "google", "huggingface", "mock"
]
BackendType = Literal["lm-evaluation-harness", "nemo-evaluator", "native"]


class HubHealth(BaseModel):
    status: str
    version: str
    uptime_seconds: float
    timestamp: datetime


# --------------------------------------------------------------------------- catalog


class HubBenchmark(BaseModel):
    benchmark_id: str
    provider_id: str
    name: str
    description: str
    category: str
    metrics: list[str]
    num_few_shot: int
    dataset_size: int | None = None
    tags: list[str] = Field(default_factory=list)
    backends: list[str] = Field(default_factory=list)
    request_type: str
    data_available: bool = False


class HubProvider(BaseModel):
    provider_id: str
    provider_name: str
    description: str
    provider_type: str
    base_url: str | None = None
    benchmark_count: int
    benchmarks: list[HubBenchmark] | None = None


class ProviderList(BaseModel):
    providers: list[HubProvider]
    total_providers: int


class BenchmarkList(BaseModel):
    benchmarks: list[HubBenchmark]
    total_count: int


class HubBenchmarkRef(BaseModel):
    provider_id: str
    benchmark_id: str
    config: dict[str, Any] | None = None


class HubCollection(BaseModel):
    collection_id: str
    name: str
    description: str
    benchmarks: list[HubBenchmarkRef]


class CollectionList(BaseModel):
    collections: list[HubCollection]
    total_collections: int


# --------------------------------------------------------------------------- models


class HubModel(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_id: str
    model_name: str
    description: str | None = None
    model_type: str
    base_url: str | None = None
    api_key_required: bool = False
    api_key_env: str | None = None
    model_path: str
    capabilities: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    status: str
    tags: list[str] = Field(default_factory=list)
    is_runtime: bool = False
    probe: dict[str, Any] | None = None
    id: uuid.UUID = Field(description="The Research Lab id of the same model row.")
    created_at: datetime
    updated_at: datetime


class HubModelList(BaseModel):
    models: list[HubModel]
    total_models: int
    runtime_models: list[HubModel]


ModelStatus = Literal["active", "inactive", "deprecated"]


class HubModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    model_name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    model_type: HubModelType = "openai-compatible"
    base_url: str | None = Field(default=None, max_length=2048)
    api_key_required: bool = False
    api_key_env: str | None = Field(
        default=None, max_length=255, description="Environment variable holding the API key (never the key)."
    )
    model_path: str | None = Field(
        default=None, max_length=512, description="Model name sent to the endpoint."
    )
    capabilities: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    status: ModelStatus = "active"
    tags: list[str] = Field(default_factory=list)


class HubModelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    base_url: str | None = Field(default=None, max_length=2048)
    api_key_required: bool | None = None
    api_key_env: str | None = Field(default=None, max_length=255)
    model_path: str | None = Field(default=None, min_length=1, max_length=512)
    capabilities: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    status: ModelStatus | None = None
    tags: list[str] | None = None


class HubMessage(BaseModel):
    message: str


class ReloadResult(BaseModel):
    message: str
    runtime_models: list[str]
    removed: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------- evaluations


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class BenchmarkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    tasks: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)

    _n = field_validator("name")(_not_blank)

    @field_validator("config")
    @classmethod
    def _config(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in ("limit", "num_fewshot"):
            v = value.get(key)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"{key} must be an integer")
            if v < (1 if key == "limit" else 0):
                raise ValueError(f"{key} must be >= {1 if key == 'limit' else 0}")
        return value


class BackendSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    type: BackendType
    config: dict[str, Any] = Field(default_factory=dict)
    benchmarks: list[BenchmarkSpec] = Field(min_length=1)


class EvaluationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    model_name: str = Field(min_length=1, max_length=255)
    model_configuration: dict[str, Any] = Field(default_factory=dict)
    risk_category: Literal["low", "medium", "high", "critical"] | None = None
    backends: list[BackendSpec] = Field(default_factory=list)
    timeout_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    retry_attempts: int = Field(default=0, ge=0, le=10)

    _n = field_validator("name", "model_name")(_not_blank)

    @model_validator(mode="after")
    def _something_to_run(self) -> EvaluationSpec:
        if not self.backends and self.risk_category is None:
            raise ValueError("give a risk_category or at least one backend with benchmarks")
        return self


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: uuid.UUID | None = None
    experiment_name: str | None = Field(default=None, max_length=255)
    evaluations: list[EvaluationSpec] = Field(min_length=1, max_length=50)
    tags: dict[str, Any] = Field(default_factory=dict)
    async_mode: bool = True


class SingleBenchmarkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str = Field(min_length=1, max_length=255)
    model_configuration: dict[str, Any] = Field(default_factory=dict)
    timeout_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    retry_attempts: int = Field(default=0, ge=0, le=10)
    limit: int | None = Field(default=None, ge=1)
    num_fewshot: int | None = Field(default=None, ge=0)
    experiment_name: str | None = Field(default=None, max_length=255)
    tags: dict[str, Any] = Field(default_factory=dict)
    request_id: uuid.UUID | None = None

    _n = field_validator("model_name")(_not_blank)


class HubStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class EvaluationCreated(BaseModel):
    request_id: uuid.UUID
    status: HubStatus
    experiment_id: uuid.UUID
    experiment_url: str
    total_evaluations: int
    created_at: datetime


class BenchmarkResult(BaseModel):
    benchmark_name: str
    provider_id: str | None = None
    evaluation_name: str
    backend_name: str
    backend_type: str
    model_name: str
    run_id: uuid.UUID
    status: str
    metrics: dict[str, float] = Field(default_factory=dict)
    method: str | None = None
    progress: float = 0.0
    samples_done: int = 0
    samples_total: int = 0
    samples: int = 0
    attempts: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None


class EvaluationStatus(BaseModel):
    request_id: uuid.UUID
    experiment_name: str
    status: HubStatus
    progress_percentage: float
    total_evaluations: int
    completed_evaluations: int
    failed_evaluations: int
    cancelled_evaluations: int
    running_evaluations: int
    results: list[BenchmarkResult]
    experiment_id: uuid.UUID
    experiment_url: str
    tags: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


class LedgerEntry(BaseModel):
    run_id: uuid.UUID
    benchmark: str
    doc_id: int
    repeat: int
    request_hash: str
    prompt: str
    response: str
    target: str
    scores: dict[str, Any]
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    extra: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class MemoryUsage(BaseModel):
    active_evaluations_mb: float
    process_rss_mb: float
    ledger_rows: int


class SystemMetrics(BaseModel):
    active_evaluations: int
    running_tasks: int
    queued_tasks: int
    total_requests: int
    status_breakdown: dict[str, int]
    job_status_breakdown: dict[str, int]
    max_concurrent_jobs: int
    executor: str
    memory_usage: MemoryUsage
    uptime_seconds: float
