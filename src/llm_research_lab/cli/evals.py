"""`llm-lab eval`: run, watch, list, inspect and cancel Eval Hub jobs, all through the SDK."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from llm_research_lab.cli._common import (
    EXIT_FAILED,
    Output,
    OutputOpt,
    col,
    connection,
    console,
    emit,
    err_console,
    fmt,
    handle_errors,
    sdk,
    usage_error,
)

if TYPE_CHECKING:
    from llm_research_lab.client import Client
    from llm_research_lab.schemas.hub import EvaluationStatus

eval_app = typer.Typer(help="Run and inspect benchmark evaluations (the Eval Hub API).", no_args_is_help=True)


def _model_id(client: Client, model: str) -> str:
    """A registered model id, or an OpenAI-compatible URL registered on the fly (idempotent)."""
    if not model.startswith(("http://", "https://")):
        return model
    from llm_research_lab.errors import NotFoundError

    slug = "url-" + hashlib.sha256(model.encode()).hexdigest()[:12]
    try:
        client.hub.models.get(slug)
    except NotFoundError:
        client.hub.models.create(
            model_id=slug,
            model_name=model,
            model_type="openai-compatible",
            base_url=model,
            model_path=_served_model(model),
            description="registered by llm-lab eval run --model URL",
        )
        # Learn what the endpoint supports (logprobs, chat only, ...) before the first job.
        client.hub.models.probe(slug)
    return slug


def _served_model(base_url: str) -> str | None:
    """The first model an OpenAI-compatible endpoint lists under /v1/models (None if it will not say)."""
    import httpx

    root = base_url.rstrip("/")
    url = f"{root}/models" if root.endswith("/v1") else f"{root}/v1/models"
    try:
        data = httpx.get(url, timeout=10).json().get("data") or []
        return str(data[0]["id"]) if data else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _benchmark_specs(
    client: Client, benchmarks: list[str], collection: str | None, limit: int | None, fewshot: int | None
) -> list[dict[str, Any]]:
    names = list(benchmarks)
    if collection:
        names += [ref.benchmark_id for ref in client.hub.collections.get(collection).benchmarks]
    config: dict[str, Any] = {}
    if limit is not None:
        config["limit"] = limit
    if fewshot is not None:
        config["num_fewshot"] = fewshot
    specs = []
    for name in dict.fromkeys(names):  # keep order, drop duplicates
        task = name.split("::", 1)[-1]
        specs.append({"name": task, "tasks": [task], "config": dict(config)})
    return specs


def build_request(
    client: Client,
    *,
    model: str,
    benchmarks: list[str],
    collection: str | None,
    risk_category: str | None,
    limit: int | None,
    num_fewshot: int | None,
    backend: str,
    name: str | None,
) -> dict[str, Any]:
    model_id = _model_id(client, model)
    evaluation: dict[str, Any] = {"name": name or f"{model_id} evaluation", "model_name": model_id}
    if risk_category:
        evaluation["risk_category"] = risk_category
    specs = _benchmark_specs(client, benchmarks, collection, limit, num_fewshot)
    if specs:
        evaluation["backends"] = [{"name": backend, "type": backend, "benchmarks": specs}]
    return {"experiment_name": name or f"llm-lab eval: {model_id}", "evaluations": [evaluation]}


PERF_KEYS = frozenset(
    {
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "tokens_per_second",
        "cost_usd",
        "num_samples",
    }
)


def _accuracy(metrics: dict[str, float]) -> float | None:
    for key in ("accuracy", "acc", "exact_match", "pass@1"):
        if key in metrics:
            return float(metrics[key])
    return None


def _progress_numbers(status: EvaluationStatus) -> tuple[int, int, float | None]:
    done = sum(r.samples_done for r in status.results)
    total = sum(r.samples_total for r in status.results)
    accs = [a for a in (_accuracy(r.metrics) for r in status.results) if a is not None]
    return done, total, (sum(accs) / len(accs) if accs else None)


def watch(client: Client, request_id: str, *, timeout: float | None, poll: float) -> EvaluationStatus:
    """Poll the job with a live progress bar: samples done, samples/s, ETA, running accuracy."""
    started = time.monotonic()
    columns = [
        TextColumn("[bold]{task.fields[state]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} samples/s"),
        TextColumn("ETA {task.fields[eta]}"),
        TextColumn("acc {task.fields[acc]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("eval", total=None, state="pending", rate="-", eta="-", acc="-")

        def update(status: EvaluationStatus) -> None:
            done, total, acc = _progress_numbers(status)
            elapsed = max(1e-6, time.monotonic() - started)
            rate = done / elapsed
            eta = f"{(total - done) / rate:.0f}s" if rate > 0 and total else "-"
            progress.update(
                task,
                completed=done,
                total=total or None,
                state=status.status.value,
                rate=f"{rate:.1f}",
                eta=eta,
                acc=fmt(acc),
            )

        return client.hub.evaluations.wait(
            request_id,
            timeout=timeout,
            poll_interval=poll,
            max_poll_interval=max(poll, 2.0),
            raise_on_failure=False,
            on_status=update,
        )


def _results_table(status: EvaluationStatus, output: Output) -> None:
    if output is Output.json:
        emit(output, status)
        return
    rows = [
        {
            "benchmark": r.benchmark_name,
            "model": r.model_name,
            "status": r.status,
            "samples": r.samples_done,
            # the quality metrics; throughput, tokens, cost and stderr are in --output json
            **{
                k: v for k, v in sorted(r.metrics.items()) if k not in PERF_KEYS and not k.endswith("_stderr")
            },
            "error": r.error,
        }
        for r in status.results
    ]
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    emit(
        output,
        rows,
        [(k, col(k)) for k in keys],
        title=f"{status.request_id}: {status.status.value}",
    )


@eval_app.command("run")
def run(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help="Model id, or an OpenAI-compatible base URL.")],
    benchmark: Annotated[
        list[str] | None, typer.Option("--benchmark", "-b", help="Benchmark id (repeatable).")
    ] = None,
    collection: Annotated[str | None, typer.Option(help="Run every benchmark of a collection.")] = None,
    risk_category: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Documents per benchmark.")] = None,
    num_fewshot: Annotated[int | None, typer.Option(min=0, help="Few-shot examples.")] = None,
    backend: Annotated[str, typer.Option(help="native, lm-evaluation-harness or nemo-evaluator.")] = "native",
    name: Annotated[str | None, typer.Option(help="Experiment name.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow progress until the job ends.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 24 * 3600,
    poll: Annotated[float, typer.Option(help="Polling interval (s).")] = 1.0,
    local: Annotated[
        bool, typer.Option("--local", help="Run in-process on the local data directory.")
    ] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory for --local (env LAB_DATA_DIR).")
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Submit an evaluation; with --wait, show live progress and a results table."""
    if not benchmark and not collection and not risk_category:
        raise usage_error("give --benchmark, --collection or --risk-category")
    if collection and risk_category:
        raise usage_error("--collection and --risk-category are exclusive")
    with _client_for(ctx, local, data_dir) as client, handle_errors():
        body = build_request(
            client,
            model=model,
            benchmarks=list(benchmark or []),
            collection=collection,
            risk_category=risk_category,
            limit=limit,
            num_fewshot=num_fewshot,
            backend=backend,
            name=name,
        )
        created = client.hub.evaluations.create(body)
        err_console.print(f"submitted {created.request_id} ({created.total_evaluations} evaluation(s))")
        if not (wait or local):
            emit(
                output,
                created,
                [
                    ("request_id", lambda c: c.request_id),
                    ("status", lambda c: c.status.value),
                    ("experiment_url", lambda c: c.experiment_url),
                ],
            )
            return
        final = watch(client, str(created.request_id), timeout=timeout, poll=poll)
        _results_table(final, output)
        if final.status.value != "completed":
            raise typer.Exit(EXIT_FAILED)


@contextlib.contextmanager
def _client_for(ctx: typer.Context, local: bool, data_dir: Path | None) -> Iterator[Client]:
    if not local:
        with sdk(ctx) as client:
            yield client
        return
    with local_server(data_dir) as base_url:
        from llm_research_lab.client import Client

        with Client(base_url=base_url) as client:
            yield client


@contextlib.contextmanager
def local_server(data_dir: Path | None) -> Iterator[str]:
    """The full server in-process on an ephemeral loopback port, on the (embedded) data directory.

    Everything it writes (jobs, runs, sample ledger) lands in the same SQLite database that
    `llm-lab serve --data-dir` later opens, so local results show up there.
    """
    import socket

    import uvicorn

    from llm_research_lab.cli.main import load_settings
    from llm_research_lab.server.app import create_app

    settings = load_settings(data_dir, auth_mode="disabled")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise usage_error("the local server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@eval_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """List evaluation jobs."""
    with sdk(ctx) as client:
        jobs = client.hub.evaluations.list(status=status)
    emit(
        output,
        jobs,
        [
            ("request_id", lambda j: j.request_id),
            ("experiment", lambda j: j.experiment_name),
            ("status", lambda j: j.status.value),
            ("progress %", lambda j: j.progress_percentage),
            ("created", lambda j: j.created_at.isoformat(timespec="seconds")),
        ],
    )


@eval_app.command("status")
def status(ctx: typer.Context, request_id: str, output: OutputOpt = Output.table) -> None:
    """Show one job: status, progress and per-benchmark results."""
    with sdk(ctx) as client:
        job = client.hub.evaluations.get(request_id)
    if output is Output.table:
        done, total, acc = _progress_numbers(job)
        console.print(
            f"[bold]{job.request_id}[/bold] {job.experiment_name}: {job.status.value} "
            f"{job.progress_percentage:.1f}% ({done}/{total} samples, accuracy {fmt(acc)})"
        )
    _results_table(job, output)


@eval_app.command("cancel")
def cancel(ctx: typer.Context, request_id: str) -> None:
    """Cancel a job."""
    with sdk(ctx) as client:
        message = client.hub.evaluations.cancel(request_id)
    console.print(message)


@eval_app.command("samples")
def samples(
    ctx: typer.Context,
    request_id: str,
    limit: Annotated[int, typer.Option(min=1, help="At most this many samples.")] = 20,
    benchmark: Annotated[str | None, typer.Option(help="Only this benchmark.")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Show scored samples of a job (the sample ledger)."""
    with sdk(ctx) as client:
        rows = []
        for entry in client.hub.evaluations.samples(
            request_id, page_size=min(limit, 100), benchmark=benchmark
        ):
            rows.append(entry)
            if len(rows) >= limit:
                break
    emit(
        output,
        rows,
        [
            ("benchmark", lambda e: e.benchmark),
            ("doc", lambda e: e.doc_id),
            ("response", lambda e: e.response[:40]),
            ("target", lambda e: e.target[:20]),
            ("scores", lambda e: e.scores),
            ("latency ms", lambda e: e.latency_ms),
        ],
    )


__all__ = ["connection", "eval_app"]
