"""llm-lab: server-side commands here; client-side command groups are added in their modules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from llm_research_lab.settings import Settings

app = typer.Typer(
    name="llm-lab",
    help="LLM Research Lab: run the server, manage users and keys, run evaluations.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
from llm_research_lab.cli.admin import keys_app, users_app  # noqa: E402 (groups live in their module)

app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
from llm_research_lab.cli._common import register as _register_client_commands  # noqa: E402

_register_client_commands(app)  # eval, experiments, models, benchmarks, ... (through the SDK)

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="State directory (env LAB_DATA_DIR).", show_default=False)
]


def load_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with command-line flags taking precedence."""
    from llm_research_lab.settings import Settings

    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env LAB_HOST, default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env LAB_PORT, default 8000).")] = None,
    data_dir: DataDirOpt = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Start the API server (SQLite under the data directory unless LAB_DB_URL is set)."""
    import uvicorn

    from llm_research_lab.server.app import create_app

    settings = load_settings(data_dir, host=host, port=port)
    try:
        application = create_app(settings)
    except Exception as exc:  # configuration errors: say why, no traceback
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"LLM Research Lab on {settings.base_url} (data: {settings.data_dir})", err=True)
    uvicorn.run(application, host=settings.host, port=settings.port, log_level=log_level, proxy_headers=False)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    data_dir: DataDirOpt = None,
) -> None:
    """Apply database migrations."""
    from llm_research_lab.server.db.migrate import upgrade

    settings = load_settings(data_dir)
    upgrade(settings, revision)
    typer.echo(f"database at {revision} ({'sqlite' if settings.is_sqlite else 'postgresql'})")


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
