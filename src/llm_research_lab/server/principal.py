"""Who is calling, and what they may do. Roles map to permission strings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

RESOURCES = ("experiments", "models", "datasets", "prompts", "evaluations")

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        [f"{r}:{a}" for r in RESOURCES for a in ("read", "write", "delete", "execute")]
        + ["users:manage", "api_keys:manage"]
    ),
    "researcher": frozenset(
        [f"{r}:{a}" for r in RESOURCES for a in ("read", "write", "delete", "execute")] + ["api_keys:manage"]
    ),
    # Viewers may hold read-only API keys (a key never exceeds its owner's permissions).
    "viewer": frozenset([f"{r}:read" for r in RESOURCES] + ["api_keys:manage"]),
}

LOCAL_USER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
LOCAL_USER_EMAIL = "local@localhost"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    email: str
    role: str
    tier: str = "standard"
    permissions: frozenset[str] = field(default_factory=frozenset)
    api_key_id: uuid.UUID | None = None
    auth_method: str = "local"
    # Set for bearer tokens, so logout can revoke this token and its refresh family.
    token_jti: str | None = None
    token_family: uuid.UUID | None = None
    token_expires_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def rate_key(self) -> str:
        return f"key:{self.api_key_id}" if self.api_key_id else f"user:{self.user_id}"


def local_principal() -> Principal:
    return Principal(
        user_id=LOCAL_USER_ID,
        email=LOCAL_USER_EMAIL,
        role="admin",
        tier="enterprise",
        permissions=ROLE_PERMISSIONS["admin"],
        auth_method="local",
    )
