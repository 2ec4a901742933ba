"""Request-scoped dependencies: settings, the DB session (one unit of work), the principal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from llm_research_lab.errors import PermissionDeniedError
from llm_research_lab.server.principal import Principal, local_principal
from llm_research_lab.server.state import AppState
from llm_research_lab.settings import Settings


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.lab
    return state


def get_settings(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


async def get_session(state: Annotated[AppState, Depends(get_state)]) -> AsyncIterator[AsyncSession]:
    """One transaction per request: services flush, the edge commits or rolls back."""
    async with state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def get_principal(request: Request) -> Principal:
    """Resolved by the auth layer when present; until then every call acts as the local admin."""
    resolver = getattr(request.app.state, "principal_resolver", None)
    if resolver is not None:
        principal: Principal = await resolver(request)
        return principal
    return local_principal()


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the commit happens before the response is sent, so a client never reads
# a 201 for a row that is not yet visible, and a failed commit still becomes an error response.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def requires(permission: str) -> Callable[..., object]:
    """Dependency factory: the principal, checked for `permission` (the route's declared need)."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.can(permission):
            raise PermissionDeniedError(required_permission=permission)
        return principal

    check.required_permission = permission  # type: ignore[attr-defined]
    return check


def Allowed(permission: str) -> object:
    return Depends(requires(permission))


# Declared need of routes open to every authenticated principal (their own profile, logout).
AUTHENTICATED = "authenticated"


async def authenticated(principal: PrincipalDep) -> Principal:
    return principal


authenticated.required_permission = AUTHENTICATED  # type: ignore[attr-defined]
AuthenticatedDep = Annotated[Principal, Depends(authenticated)]
