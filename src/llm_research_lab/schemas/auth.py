"""Wire contract of /auth: tokens, the current principal, API keys."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

API_KEY_PREFIX = "llm-research_"
ROLES = ("admin", "researcher", "viewer")
TIER_NAMES = ("free", "standard", "professional", "enterprise")

_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m' -> timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"invalid duration {text!r}: use a positive number with d, h or m (e.g. 30d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=320, description="The account's email")
    # SecretStr: never shown by repr() or validation errors.
    password: SecretStr = Field(min_length=1, max_length=1024)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: SecretStr = Field(min_length=1, max_length=4096)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: SecretStr | None = Field(default=None, max_length=4096)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(examples=[3600])


class Me(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    tier: str
    permissions: list[str]
    auth_method: Literal["jwt", "api_key", "local"] | str
    api_key_id: uuid.UUID | None = None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=255)
    expires_in: str | None = Field(
        default=None, description="Lifetime like 30d, 12h or 90m", examples=["90d"]
    )
    expires_at: datetime | None = None
    scopes: list[str] | None = Field(
        default=None,
        description="Subset of your permissions; default: all of them",
        examples=[["experiments:read"]],
    )

    @field_validator("expires_in")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class ApiKey(BaseModel):
    id: uuid.UUID
    name: str | None
    prefix: str = Field(
        description="The key's first characters, to recognise it; the key itself is not stored"
    )
    scopes: list[str] | None
    tier: str | None = None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="Shown once; store it now")
