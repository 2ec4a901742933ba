"""JWT access and refresh tokens: HS256 only, expiry checked against the injected clock."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from llm_research_lab.errors import UnauthorizedError
from llm_research_lab.server.clock import Clock

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"
_REQUIRED_CLAIMS = ("sub", "role", "exp", "iat", "jti", "typ")


def token_hash(token: str) -> str:
    """Tokens and API keys carry >= 256 bits of entropy, so a fast hash is enough to make a leaked
    table useless (no dictionary to try); a slow password hash would only cost latency per request."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: uuid.UUID
    role: str
    typ: str
    jti: str
    family: uuid.UUID | None
    issued_at: datetime
    expires_at: datetime


class TokenCodec:
    def __init__(self, secret: str, clock: Clock) -> None:
        self._secret = secret
        self._clock = clock

    def encode(
        self, *, sub: uuid.UUID, role: str, typ: str, ttl_s: int, family: uuid.UUID | None = None
    ) -> tuple[str, TokenClaims]:
        now = int(self._clock.time())
        jti = uuid.uuid4().hex
        payload: dict[str, Any] = {
            "sub": str(sub),
            "role": role,
            "typ": typ,
            "jti": jti,
            "iat": now,
            "exp": now + ttl_s,
        }
        if family is not None:
            payload["fam"] = str(family)
        token = jwt.encode(payload, self._secret, algorithm=ALGORITHM)
        return token, self._claims(payload)

    def decode(self, token: str, typ: str) -> TokenClaims:
        """Verified claims, or UnauthorizedError (never saying which check failed, nor echoing the token)."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:  # refuse `none` and every other algorithm outright
                raise UnauthorizedError()
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                # exp is checked below against the injected clock, not the wall clock (iat too).
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": list(_REQUIRED_CLAIMS),
                },
            )
            claims = self._claims(payload)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise UnauthorizedError() from exc
        now = self._clock.time()
        if (
            claims.typ != typ
            or claims.expires_at.timestamp() <= now
            or claims.issued_at.timestamp() > now + 60
        ):
            raise UnauthorizedError()
        return claims

    @staticmethod
    def _claims(payload: dict[str, Any]) -> TokenClaims:
        fam = payload.get("fam")
        return TokenClaims(
            sub=uuid.UUID(str(payload["sub"])),
            role=str(payload["role"]),
            typ=str(payload["typ"]),
            jti=str(payload["jti"]),
            family=uuid.UUID(str(fam)) if fam else None,
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
        )


def ttl(seconds: int) -> timedelta:
    return timedelta(seconds=seconds)
