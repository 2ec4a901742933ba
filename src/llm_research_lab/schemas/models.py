"""Registered models (Research Lab view) and providers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROVIDERS = ("openai", "anthropic", "google", "vllm", "openai-compatible", "ollama", "huggingface", "mock")


class Pricing(BaseModel):
    model_config = ConfigDict(extra="allow")

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


def _check_config(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value and value.get("pricing") is not None:
        Pricing.model_validate(value["pricing"])
    return value


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field(min_length=1, max_length=255)
    provider: str
    model_identifier: str = Field(min_length=1, max_length=512)
    version: str | None = Field(default=None, max_length=128)
    description: str | None = None
    base_url: str | None = Field(default=None, max_length=2048)
    api_key_env: str | None = Field(
        default=None, max_length=255, description="Name of the environment variable holding the API key."
    )
    config: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)

    _c = field_validator("config")(_check_config)

    @field_validator("provider")
    @classmethod
    def _provider(cls, value: str) -> str:
        if value not in PROVIDERS:
            raise ValueError(f"Unknown provider '{value}'; expected one of: {', '.join(PROVIDERS)}")
        return value


class ModelUpdate(BaseModel):
    """Partial update; `config` is deep-merged into the stored config."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str | None = Field(default=None, min_length=1, max_length=255)
    model_identifier: str | None = Field(default=None, min_length=1, max_length=512)
    version: str | None = Field(default=None, max_length=128)
    description: str | None = None
    base_url: str | None = Field(default=None, max_length=2048)
    api_key_env: str | None = Field(default=None, max_length=255)
    config: dict[str, Any] | None = None
    tags: list[str] | None = None

    _c = field_validator("config")(_check_config)


class Model(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    id: UUID
    model_id: str = Field(description="Slug used by the Eval Hub surface (/api/v1/models/{model_id}).")
    name: str
    provider: str
    model_identifier: str
    version: str | None = None
    description: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    capabilities: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    status: str = "active"
    is_runtime: bool = False
    created_at: datetime
    updated_at: datetime


class Provider(BaseModel):
    name: str
    display_name: str
    description: str
    supported_models: list[str]
    self_hosted: bool = False
    requires_base_url: bool = False
