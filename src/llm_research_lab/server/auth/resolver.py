"""Credentials -> Principal. Runs once per request in AuthMiddleware, before the rate limiter."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llm_research_lab.errors import UnauthorizedError
from llm_research_lab.schemas.auth import API_KEY_PREFIX
from llm_research_lab.server.auth.repository import ApiKeyRepository, TokenRepository, UserRepository
from llm_research_lab.server.auth.runtime import AuthRuntime
from llm_research_lab.server.auth.service import principal_for
from llm_research_lab.server.auth.tokens import ACCESS, token_hash
from llm_research_lab.server.principal import ROLE_PERMISSIONS, Principal

# last_used_at is informational: write it at most once a minute per key, not on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)

WWW_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}


def unauthorized(message: str | None = None) -> UnauthorizedError:
    return UnauthorizedError(message, headers=WWW_AUTHENTICATE)


class CredentialResolver:
    def __init__(self, runtime: AuthRuntime, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.runtime = runtime
        self.sessionmaker = sessionmaker

    async def resolve(self, authorization: str | None, api_key: str | None) -> Principal | None:
        """None when no credentials were sent; UnauthorizedError when they are not valid."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized()
            return await self._bearer(token.strip())
        if api_key:
            return await self._api_key(api_key.strip())
        return None

    async def _bearer(self, token: str) -> Principal:
        try:
            claims = self.runtime.codec.decode(token, ACCESS)
        except UnauthorizedError as exc:
            raise unauthorized() from exc
        async with self.sessionmaker() as session:
            if await TokenRepository(session).is_access_revoked(claims.jti):
                raise unauthorized()
            user = await UserRepository(session).get(claims.sub)
        if user is None or not user.is_active:
            raise unauthorized()
        # Role and tier come from the user row, so a demotion takes effect at once.
        return principal_for(
            user,
            auth_method="jwt",
            token_jti=claims.jti,
            token_family=claims.family,
            token_expires_at=claims.expires_at,
        )

    async def _api_key(self, key: str) -> Principal:
        if not key.startswith(API_KEY_PREFIX) or len(key) > 256:
            raise unauthorized()
        now = self.runtime.clock.now()
        async with self.sessionmaker() as session:
            found = await ApiKeyRepository(session).by_hash(token_hash(key))
            if found is None:
                raise unauthorized()
            row, user = found
            if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
                raise unauthorized()
            if not user.is_active:
                raise unauthorized()
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                await ApiKeyRepository(session).touch(row.id, now)
                await session.commit()
        role_permissions = ROLE_PERMISSIONS.get(user.role, frozenset())
        # A key's power: its scopes, and never more than its owner's role grants today.
        permissions = role_permissions if row.scopes is None else role_permissions & frozenset(row.scopes)
        principal = principal_for(user, auth_method="api_key", api_key_id=row.id)
        return Principal(
            user_id=principal.user_id,
            email=principal.email,
            role=principal.role,
            tier=row.tier or user.tier,
            permissions=permissions,
            api_key_id=row.id,
            auth_method="api_key",
        )
