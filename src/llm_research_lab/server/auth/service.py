"""Users, logins, token rotation, API keys. Services flush; the caller's edge commits."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UnauthorizedError,
    ValidationError,
)
from llm_research_lab.schemas import auth as s
from llm_research_lab.server.auth.passwords import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    verify_password,
)
from llm_research_lab.server.auth.repository import ApiKeyRepository, TokenRepository, UserRepository
from llm_research_lab.server.auth.runtime import AuthRuntime
from llm_research_lab.server.auth.tokens import ACCESS, REFRESH, token_hash
from llm_research_lab.server.db.models import ApiKey, RefreshToken, User
from llm_research_lab.server.principal import ROLE_PERMISSIONS, Principal

KEY_RANDOM_BYTES = 32  # token_urlsafe(32): 43 url-safe characters, 256 bits
KEY_DISPLAY_CHARS = 8


class UserService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = UserRepository(session)

    async def create(self, email: str, password: str, role: str, tier: str = "standard") -> User:
        fields: dict[str, str] = {}
        email = email.strip()
        if "@" not in email or len(email) > 320:
            fields["email"] = "Must be an email address"
        if role not in s.ROLES:
            fields["role"] = f"Must be one of {', '.join(s.ROLES)}"
        if tier not in s.TIER_NAMES:
            fields["tier"] = f"Must be one of {', '.join(s.TIER_NAMES)}"
        if len(password) < MIN_PASSWORD_LENGTH:
            fields["password"] = f"Must be at least {MIN_PASSWORD_LENGTH} characters"
        if fields:
            raise ValidationError.from_fields(fields)
        existing = await self.repo.by_email(email)
        if existing is not None:
            raise ConflictError("A user with this email already exists", existing_id=str(existing.id))
        return await self.repo.add(
            User(email=email, password_hash=hash_password(password), role=role, tier=tier, is_active=True)
        )

    async def list(self) -> Sequence[User]:
        return await self.repo.list()


class ReuseDetected(UnauthorizedError):
    """A rotated refresh token came back; the route commits the family's revocation, then answers 401."""

    def __init__(self, family_id: uuid.UUID) -> None:
        super().__init__()
        self.family_id = family_id


def principal_for(user: User, **extra: object) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        role=user.role,
        tier=user.tier,
        permissions=ROLE_PERMISSIONS.get(user.role, frozenset()),
        **extra,  # type: ignore[arg-type]
    )


class AuthService:
    def __init__(self, session: AsyncSession, runtime: AuthRuntime) -> None:
        self.session = session
        self.runtime = runtime
        self.users = UserRepository(session)
        self.tokens = TokenRepository(session)

    async def login(self, username: str, password: str, address: str) -> s.TokenPair:
        limiter = self.runtime.limiter
        await limiter.check_login(username, address)
        user = await self.users.by_email(username)
        ok = verify_password(user.password_hash if user else None, password)
        if user is None or not ok or not user.is_active:
            await limiter.login_failed(username, address)
            raise UnauthorizedError("Invalid username or password")
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return await self.issue(user, family=uuid.uuid4())

    async def issue(self, user: User, family: uuid.UUID) -> s.TokenPair:
        settings = self.runtime.settings
        codec = self.runtime.codec
        access, _ = codec.encode(
            sub=user.id, role=user.role, typ=ACCESS, ttl_s=settings.access_token_ttl_s, family=family
        )
        refresh, claims = codec.encode(
            sub=user.id, role=user.role, typ=REFRESH, ttl_s=settings.refresh_token_ttl_s, family=family
        )
        await self.tokens.add_refresh(
            RefreshToken(
                id=uuid.UUID(claims.jti),
                family_id=family,
                user_id=user.id,
                token_hash=token_hash(refresh),
                issued_at=claims.issued_at,
                expires_at=claims.expires_at,
            )
        )
        return s.TokenPair(access_token=access, refresh_token=refresh, expires_in=settings.access_token_ttl_s)

    async def refresh(self, refresh_token: str) -> s.TokenPair:
        """Rotate: the presented token is spent; presenting it again revokes its whole family
        (someone else holds a copy, and we cannot tell which holder is legitimate)."""
        claims = self.runtime.codec.decode(refresh_token, REFRESH)
        row = await self.tokens.refresh_by_hash(token_hash(refresh_token))
        now = self.runtime.clock.now()
        if row is None or row.revoked_at is not None:
            raise UnauthorizedError()
        if row.used_at is not None or not await self.tokens.mark_used(row.id, now):
            # The revocation must survive the 401, whose unit of work rolls back: the route
            # commits it in its own (see ReuseDetected).
            raise ReuseDetected(row.family_id)
        user = await self.users.get(claims.sub)
        if user is None or not user.is_active:
            raise UnauthorizedError()
        return await self.issue(user, family=row.family_id)

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        await self.tokens.revoke_family(family_id, self.runtime.clock.now())
        await self.session.flush()

    async def logout(self, principal: Principal, refresh_token: str | None) -> None:
        now = self.runtime.clock.now()
        if principal.token_jti and principal.token_expires_at:
            await self.tokens.revoke_access(principal.token_jti, principal.token_expires_at, now)
        families = {principal.token_family} if principal.token_family else set()
        if refresh_token:
            row = await self.tokens.refresh_by_hash(token_hash(refresh_token))
            if row is not None and row.user_id == principal.user_id:
                families.add(row.family_id)
        for family in families:
            if family is not None:
                await self.tokens.revoke_family(family, now)
        await self.session.flush()


def new_api_key() -> tuple[str, str]:
    """(key, display prefix). The prefix is the fixed marker plus 8 random characters."""
    key = s.API_KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)
    return key, key[: len(s.API_KEY_PREFIX) + KEY_DISPLAY_CHARS]


def key_to_schema(row: ApiKey) -> s.ApiKey:
    return s.ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=list(row.scopes) if row.scopes is not None else None,
        tier=row.tier,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class ApiKeyService:
    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session = session
        self.now = now
        self.repo = ApiKeyRepository(session)

    async def create(
        self,
        principal: Principal,
        *,
        name: str | None = None,
        expires_in: timedelta | None = None,
        expires_at: datetime | None = None,
        scopes: Iterable[str] | None = None,
    ) -> tuple[ApiKey, str]:
        scope_list = sorted(set(scopes)) if scopes is not None else None
        if scope_list is not None:
            # A key never exceeds what its creator may do (including a key creating a key).
            extra = [sc for sc in scope_list if sc not in principal.permissions]
            if extra:
                raise PermissionDeniedError(
                    required_permission=extra[0],
                    message=f"Scopes exceed your permissions: {', '.join(extra)}",
                )
        if expires_in is not None:
            expires_at = self.now + expires_in
        if expires_at is not None and expires_at <= self.now:
            raise ValidationError.from_fields({"expires_at": "Must be in the future"})
        key, prefix = new_api_key()
        row = ApiKey(
            user_id=principal.user_id,
            name=name,
            prefix=prefix,
            key_hash=token_hash(key),
            scopes=scope_list,
            created_at=self.now,
            expires_at=expires_at,
        )
        await self.repo.add(row)
        return row, key

    async def list(self, principal: Principal) -> Sequence[ApiKey]:
        return await self.repo.list_for(principal.user_id)

    async def find(self, ident: str) -> ApiKey | None:
        """By id or display prefix (the CLI accepts both)."""
        try:
            return await self.repo.get(uuid.UUID(ident))
        except ValueError:
            return await self.repo.by_prefix(ident)

    async def revoke(self, principal: Principal | None, ident: str) -> ApiKey:
        """principal None: the server operator (CLI) may revoke any key."""
        row = await self.find(ident)
        if row is None or (
            principal is not None and row.user_id != principal.user_id and not principal.can("users:manage")
        ):
            # Someone else's key is "not found": its existence is not disclosed.
            raise NotFoundError.of("API key", ident)
        if row.revoked_at is None:
            row.revoked_at = self.now
            await self.session.flush()
        return row
