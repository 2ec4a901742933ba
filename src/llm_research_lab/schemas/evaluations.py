"""Evaluation records (metrics reported for a run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment_id: UUID
    run_id: UUID
    metrics: dict[str, Any] = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Evaluation(BaseModel):
    id: UUID
    experiment_id: UUID
    run_id: UUID
    metrics: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime
