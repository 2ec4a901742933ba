"""Prompt templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class PromptTemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    template: str = Field(min_length=1, max_length=1_000_000)
    variables: list[str] | None = Field(
        default=None, description="Declared variables; derived from the template when omitted."
    )
    default_values: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class PromptTemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    template: str | None = Field(default=None, min_length=1, max_length=1_000_000)
    variables: list[str] | None = None
    default_values: dict[str, Any] | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None


class PromptTemplate(BaseModel):
    id: UUID
    name: str
    description: str | None = None
    template: str
    variables: list[str]
    default_values: dict[str, Any]
    tags: list[str]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict)


class RenderResponse(BaseModel):
    rendered: str
