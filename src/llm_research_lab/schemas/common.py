"""Envelope, pagination and shared field types."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class ErrorBody(BaseModel):
    """The error envelope every failing call answers with."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(examples=["not_found"])
    message: str
    details: dict[str, Any] | None = None
    request_id: str | None = Field(default=None, examples=["req_5f2c0b8e9d7a4c1e"])


class HubErrorBody(ErrorBody):
    """Under /api/v1 the envelope also carries `detail` (the Eval Hub notebook reads it)."""

    detail: Any = None


class Pagination(BaseModel):
    total: int | None = Field(description="Total rows matching the filters (offset mode).")
    limit: int
    offset: int | None
    has_more: bool


class Links(BaseModel):
    self: str
    next: str | None = None
    prev: str | None = None
    first: str | None = None
    last: str | None = None


class PageInfo(BaseModel):
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


class Page(BaseModel, Generic[T]):
    """A list response: offset pagination + links, and cursor page_info, always both."""

    data: list[T]
    pagination: Pagination
    links: Links
    page_info: PageInfo


class Message(BaseModel):
    message: str


class Timestamps(BaseModel):
    created_at: datetime
    updated_at: datetime
