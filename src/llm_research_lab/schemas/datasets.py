"""Datasets: metadata, a JSON Schema for rows, uploaded content and immutable versions."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

# semver.org's recommended pattern (2.0.0): MAJOR.MINOR.PATCH[-pre][+build], no leading zeros.
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)


class DatasetFormat(StrEnum):
    JSONL = "jsonl"
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"


def _name(value: str | None) -> str | None:
    if value is not None and not (len(value.strip()) >= 1 and len(value) <= 255):
        raise ValueError("Name must be between 1 and 255 characters")
    return value


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    description: str | None = None
    format: DatasetFormat = DatasetFormat.JSONL
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="JSON Schema every row must satisfy (checked on upload)"
    )
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    _n = field_validator("name")(_name)


class DatasetUpdate(BaseModel):
    """Partial update: only the fields sent change. A new schema must fit the current content."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = None
    description: str | None = None
    format: DatasetFormat | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None

    _n = field_validator("name")(_name)


class Dataset(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: UUID
    name: str
    description: str | None = None
    format: DatasetFormat
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    tags: list[str]
    metadata: dict[str, Any]
    size_bytes: int | None = None
    row_count: int | None = None
    sha256: str | None = Field(default=None, description="SHA-256 of the current content")
    filename: str | None = Field(default=None, description="Name of the uploaded file")
    current_version: str | None = Field(
        default=None, description="The version whose content is the current content, if any"
    )
    latest_version: str | None = None
    content_updated_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=255)


class UploadURL(BaseModel):
    upload_url: str
    expires_at: datetime
    upload_id: UUID
    method: str = "PUT"
    headers: dict[str, str] = Field(
        default_factory=dict, description="Headers the PUT must carry (the signed Content-Type)"
    )
    max_bytes: int


class UploadComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upload_id: UUID | None = Field(default=None, description="Defaults to the latest upload")


class DownloadURL(BaseModel):
    download_url: str
    expires_at: datetime
    version: str | None = Field(default=None, description="None: the current content")
    sha256: str | None = None
    size_bytes: int | None = None


class DatasetVersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(max_length=64)
    description: str | None = None
    changelog: str | None = None

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.fullmatch(value):
            raise ValueError("version must be a semantic version such as 1.2.0")
        return value


class DatasetVersion(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: UUID
    dataset_id: UUID
    version: str
    description: str | None = None
    changelog: str | None = None
    format: DatasetFormat
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    sha256: str
    size_bytes: int
    row_count: int
    filename: str | None = None
    created_at: datetime
    created_by: UUID | None = None


class Rows(BaseModel):
    data: list[Any]
    offset: int
    limit: int
    has_more: bool
    total: int | None = Field(description="Rows in this content (row_count)")
    version: str | None = None
