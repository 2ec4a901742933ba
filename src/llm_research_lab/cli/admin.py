"""`llm-lab users ...` and `llm-lab keys ...`: operator commands that work directly on the database
of the configured data directory (or LAB_DB_URL), after applying migrations."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from llm_research_lab.settings import Settings

T = TypeVar("T")

users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="State directory (env LAB_DATA_DIR).", show_default=False)
]


def _settings(data_dir: Path | None) -> Settings:
    from llm_research_lab.cli.main import load_settings

    return load_settings(data_dir)


def _run(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate, then run `work` in one unit of work that commits on success. LabErrors exit 1."""
    from llm_research_lab.errors import LabError
    from llm_research_lab.server.db.migrate import upgrade
    from llm_research_lab.server.db.session import create_engine, create_sessionmaker

    upgrade(settings)

    async def main() -> T:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except LabError as exc:
        fields = (exc.details or {}).get("fields")
        typer.echo(f"error: {exc.message}" + (f" {fields}" if fields else ""), err=True)
        raise typer.Exit(1) from exc


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option("--email", help="Login name (the email).")],
    role: Annotated[str, typer.Option("--role", help="admin, researcher or viewer.")] = "researcher",
    tier: Annotated[
        str | None, typer.Option("--tier", help="Rate-limit tier: free, standard, professional, enterprise.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a user (the password is never taken as an argument: it would land in shell history)."""
    from llm_research_lab.server.auth.service import UserService

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(data_dir)

    async def work(session: AsyncSession) -> str:
        user = await UserService(session).create(email, password, role, tier or settings.default_tier)
        return f"{user.id}\t{user.email}\t{user.role}\t{user.tier}"

    typer.echo(_run(settings, work))


@users_app.command("list")
def users_list(data_dir: DataDirOpt = None) -> None:
    """List users: id, email, role, tier, active."""
    from llm_research_lab.server.auth.service import UserService

    async def work(session: AsyncSession) -> list[str]:
        return [
            f"{u.id}\t{u.email}\t{u.role}\t{u.tier}\t{'active' if u.is_active else 'inactive'}"
            for u in await UserService(session).list()
        ]

    for line in _run(_settings(data_dir), work):
        typer.echo(line)


@keys_app.command("create")
def keys_create(
    email: Annotated[str, typer.Option("--email", help="The key's owner.")],
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="Lifetime, e.g. 30d, 12h, 90m (default: none).")
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Permission to grant (repeatable; default: all).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create an API key. The key alone goes to stdout (shown once); details go to stderr."""
    from llm_research_lab.errors import NotFoundError
    from llm_research_lab.schemas.auth import parse_duration
    from llm_research_lab.server.auth.repository import UserRepository
    from llm_research_lab.server.auth.service import ApiKeyService, principal_for
    from llm_research_lab.server.clock import Clock

    try:
        lifetime = parse_duration(expires_in) if expires_in else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--expires-in") from exc

    async def work(session: AsyncSession) -> tuple[str, str]:
        user = await UserRepository(session).by_email(email)
        if user is None:
            raise NotFoundError(f"User {email} not found")
        row, key = await ApiKeyService(session, Clock().now()).create(
            principal_for(user), name=name, expires_in=lifetime, scopes=scope or None
        )
        expiry = row.expires_at.isoformat() if row.expires_at else "never"
        return key, f"key {row.id} ({row.prefix}...) for {user.email}, expires {expiry}"

    key, info = _run(_settings(data_dir), work)
    typer.echo(info, err=True)
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or its display prefix.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke an API key; requests with it get 401 from now on."""
    from llm_research_lab.server.auth.service import ApiKeyService
    from llm_research_lab.server.clock import Clock

    async def work(session: AsyncSession) -> str:
        row = await ApiKeyService(session, Clock().now()).revoke(None, key)
        return f"revoked {row.id} ({row.prefix}...)"

    typer.echo(_run(_settings(data_dir), work))
