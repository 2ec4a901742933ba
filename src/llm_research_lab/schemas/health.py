"""Health probes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Readiness(BaseModel):
    status: str
    components: dict[str, str]


class ComponentDetail(BaseModel):
    status: str
    latency_ms: float
    critical: bool
    error: str | None = None


class DetailedHealth(BaseModel):
    status: str
    version: str
    uptime_seconds: float
    components: dict[str, ComponentDetail]
    versions: dict[str, str]
    settings: dict[str, Any]
