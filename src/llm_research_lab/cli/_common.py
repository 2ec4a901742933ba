"""Shared plumbing of the client-side commands: global options, the SDK client, output, exit codes.

Exit codes: 0 success; 1 the evaluated thing failed (job failed or was cancelled, run failed,
timeout); 2 usage error (bad arguments, or the server refused the request: 4xx); 3 the server
could not be reached or failed (5xx, connection errors).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SERVER = 0, 1, 2, 3

console = Console()
err_console = Console(stderr=True)


class Output(StrEnum):
    table = "table"
    json = "json"


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table or json.")]


@dataclass
class Connection:
    base_url: str | None = None
    api_key: str | None = None


def global_options(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", envvar="LAB_BASE_URL", help="Server URL (env LAB_BASE_URL)."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="LAB_API_KEY", help="API key (env LAB_API_KEY).", show_default=False
        ),
    ] = None,
) -> None:
    """LLM Research Lab: run the server, manage users and keys, run evaluations."""
    ctx.obj = Connection(base_url=base_url, api_key=api_key)


def connection(ctx: typer.Context) -> Connection:
    root = ctx.find_root()
    obj = root.obj
    return obj if isinstance(obj, Connection) else Connection()


@contextmanager
def sdk(ctx: typer.Context) -> Iterator[Any]:
    """A Client for the command, with LabErrors turned into a message and an exit code."""
    from llm_research_lab.client import Client

    conn = connection(ctx)
    with handle_errors(), Client(api_key=conn.api_key, base_url=conn.base_url) as client:
        yield client


@contextmanager
def handle_errors() -> Iterator[None]:
    import httpx

    from llm_research_lab.errors import LabError, RunFailedError, TimeoutError_

    try:
        yield
    except (RunFailedError, TimeoutError_) as exc:
        err_console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(EXIT_FAILED) from exc
    except LabError as exc:
        details = ""
        fields = (exc.details or {}).get("fields") if exc.details else None
        if fields:
            details = "; " + ", ".join(f"{k}: {v}" for k, v in fields.items())
        rid = f" (request {exc.request_id})" if exc.request_id else ""
        err_console.print(f"[red]error:[/red] {exc.error_code}: {exc.message}{details}{rid}")
        raise typer.Exit(EXIT_USAGE if 400 <= exc.http_status < 500 else EXIT_SERVER) from exc
    except httpx.TransportError as exc:
        err_console.print(f"[red]error:[/red] cannot reach the server: {exc}")
        raise typer.Exit(EXIT_SERVER) from exc


def usage_error(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(EXIT_USAGE)


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def emit(
    output: Output,
    data: Any,
    columns: Sequence[tuple[str, Callable[[Any], Any]]] | None = None,
    *,
    title: str | None = None,
) -> None:
    """Print ``data`` as JSON, or as a table of ``columns`` (rows = data when it is a list)."""
    if output is Output.json:
        typer.echo(json.dumps(to_jsonable(data), indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    if columns is None:
        columns = [(k, _getter(k)) for k in (to_jsonable(rows[0]) if rows else {})]
    table = Table(title=title, show_lines=False)
    for name, _ in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*(_cell(fn(row)) for _, fn in columns))
    console.print(table)


def col(key: str) -> Callable[[Any], Any]:
    """A column reading ``key`` from a dict row or an attribute of an object row."""
    return lambda row: row.get(key) if isinstance(row, dict) else getattr(row, key, None)


def _getter(key: str) -> Callable[[Any], Any]:
    return lambda row: to_jsonable(row).get(key)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def fmt(value: Any) -> str:
    return _cell(value)


def register(app: typer.Typer) -> None:
    """Add the client-side command groups and the global --base-url/--api-key options to `app`."""
    from llm_research_lab.cli.evals import eval_app
    from llm_research_lab.cli.resources import (
        benchmarks_app,
        collections_app,
        datasets_app,
        experiments_app,
        models_app,
        prompts_app,
    )

    app.callback()(global_options)
    app.add_typer(eval_app, name="eval")
    app.add_typer(experiments_app, name="experiments")
    app.add_typer(models_app, name="models")
    app.add_typer(benchmarks_app, name="benchmarks")
    app.add_typer(collections_app, name="collections")
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(prompts_app, name="prompts")
