"""/auth routes: tokens, the current principal, API keys."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from llm_research_lab.schemas import auth as s
from llm_research_lab.server.auth.middleware import client_address
from llm_research_lab.server.auth.runtime import AuthRuntime, auth_runtime
from llm_research_lab.server.auth.service import ApiKeyService, AuthService, ReuseDetected, key_to_schema
from llm_research_lab.server.deps import Allowed, AuthenticatedDep, SessionDep, StateDep
from llm_research_lab.server.openapi import PUBLIC, errors, public_errors
from llm_research_lab.server.principal import Principal
from llm_research_lab.server.state import AppState

router = APIRouter(prefix="/auth", tags=["auth"])


def get_runtime(state: StateDep) -> AuthRuntime:
    return auth_runtime(state)


RuntimeDep = Annotated[AuthRuntime, Depends(get_runtime)]


@router.post(
    "/token",
    response_model=s.TokenPair,
    responses=public_errors(400, 401),
    openapi_extra=PUBLIC,
    summary="Obtain an access and a refresh token",
)
async def token(
    body: s.TokenRequest, request: Request, session: SessionDep, runtime: RuntimeDep
) -> s.TokenPair:
    return await AuthService(session, runtime).login(
        body.username, body.password.get_secret_value(), client_address(request.scope)
    )


async def _commit_revocation(state: AppState, runtime: AuthRuntime, exc: ReuseDetected) -> None:
    async with state.sessionmaker() as other:
        await AuthService(other, runtime).revoke_family(exc.family_id)
        await other.commit()


@router.post(
    "/refresh",
    response_model=s.TokenPair,
    responses=public_errors(400, 401),
    openapi_extra=PUBLIC,
    summary="Rotate a refresh token (a reused one revokes its whole family)",
)
async def refresh(
    body: s.RefreshRequest, session: SessionDep, runtime: RuntimeDep, state: StateDep
) -> s.TokenPair:
    try:
        return await AuthService(session, runtime).refresh(body.refresh_token.get_secret_value())
    except ReuseDetected as exc:
        await _commit_revocation(state, runtime, exc)
        raise


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(), summary="Revoke tokens")
async def logout(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: AuthenticatedDep,
    body: s.LogoutRequest | None = None,
) -> Response:
    refresh_token = body.refresh_token.get_secret_value() if body and body.refresh_token else None
    await AuthService(session, runtime).logout(principal, refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=s.Me, responses=errors(), summary="The calling principal")
async def me(principal: AuthenticatedDep) -> s.Me:
    return s.Me(
        id=principal.user_id,
        email=principal.email,
        role=principal.role,
        tier=principal.tier,
        permissions=sorted(principal.permissions),
        auth_method=principal.auth_method,
        api_key_id=principal.api_key_id,
    )


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=s.ApiKeyCreated,
    responses=errors(),
    summary="Create an API key (shown once)",
)
async def create_api_key(
    body: s.ApiKeyCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Allowed("api_keys:manage")],
) -> s.ApiKeyCreated:
    row, key = await ApiKeyService(session, runtime.clock.now()).create(
        principal,
        name=body.name,
        expires_in=s.parse_duration(body.expires_in) if body.expires_in else None,
        expires_at=body.expires_at,
        scopes=body.scopes,
    )
    return s.ApiKeyCreated(**key_to_schema(row).model_dump(), key=key)


@router.get("/api-keys", response_model=list[s.ApiKey], responses=errors(), summary="Your API keys")
async def list_api_keys(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Allowed("api_keys:manage")],
) -> list[s.ApiKey]:
    return [key_to_schema(r) for r in await ApiKeyService(session, runtime.clock.now()).list(principal)]


@router.delete(
    "/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404), summary="Revoke"
)
async def revoke_api_key(
    key_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[Principal, Allowed("api_keys:manage")],
) -> Response:
    await ApiKeyService(session, runtime.clock.now()).revoke(principal, str(key_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
