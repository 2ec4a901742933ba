"""`llm-lab experiments|models|benchmarks|collections|datasets|prompts`, all through the SDK."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from llm_research_lab.cli._common import Output, OutputOpt, col, console, emit, fmt, sdk, usage_error

if TYPE_CHECKING:
    from llm_research_lab.client import Client

experiments_app = typer.Typer(help="Experiments: list, show, metrics, compare.", no_args_is_help=True)
models_app = typer.Typer(help="Registered models.", no_args_is_help=True)
benchmarks_app = typer.Typer(help="Benchmark catalog.", no_args_is_help=True)
collections_app = typer.Typer(help="Benchmark collections.", no_args_is_help=True)
datasets_app = typer.Typer(help="Datasets: create, upload, download, versions.", no_args_is_help=True)
prompts_app = typer.Typer(help="Prompt templates.", no_args_is_help=True)

LimitOpt = Annotated[int, typer.Option(min=1, help="At most this many rows.")]


def _json_arg(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise usage_error(f"{name} is not valid JSON: {exc.msg}") from exc


# --------------------------------------------------------------------------- experiments


@experiments_app.command("list")
def experiments_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Filter by status.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Every tag must match (repeatable).")] = None,
    limit: LimitOpt = 50,
    output: OutputOpt = Output.table,
) -> None:
    """List experiments, newest first."""
    with sdk(ctx) as client:
        rows = list(
            islice(client.experiments.list(status=status, tags=tag, page_size=min(limit, 100)), limit)
        )
    emit(
        output,
        rows,
        [
            ("id", lambda e: e.id),
            ("name", lambda e: e.name),
            ("status", lambda e: e.status.value),
            ("tags", lambda e: ",".join(e.tags)),
            ("created", lambda e: e.created_at.isoformat(timespec="seconds")),
        ],
    )


@experiments_app.command("show")
def experiments_show(ctx: typer.Context, experiment_id: str, output: OutputOpt = Output.table) -> None:
    """One experiment and its runs."""
    with sdk(ctx) as client:
        experiment = client.experiments.get(experiment_id)
        runs = list(experiment.runs())
    if output is Output.json:
        emit(output, {"experiment": experiment, "runs": runs})
        return
    emit(
        output,
        experiment,
        [(k, col(k)) for k in ("id", "name", "status", "description", "tags", "config")],
    )
    emit(
        output,
        runs,
        [
            ("run", lambda r: r.id),
            ("status", lambda r: r.status.value),
            ("managed", lambda r: r.managed),
            ("error", lambda r: r.error),
        ],
        title="runs",
    )


@experiments_app.command("metrics")
def experiments_metrics(ctx: typer.Context, experiment_id: str, output: OutputOpt = Output.table) -> None:
    """Aggregated metrics over the experiment's runs."""
    with sdk(ctx) as client:
        metrics = client.experiments.get_metrics(experiment_id)
    if output is Output.json:
        emit(output, metrics)
        return
    rows = [{"metric": k, **v.model_dump()} for k, v in sorted(metrics.aggregated_metrics.items())]
    emit(output, rows, [(c, col(c)) for c in ("metric", "mean", "std", "min", "max", "count")])


def _ledger(client: Client, experiment_id: str) -> dict[tuple[str, int, int], float]:
    """Per-sample correctness of an experiment's runs, keyed by (benchmark, doc, repeat)."""
    from llm_research_lab.errors import NotFoundError

    scores: dict[tuple[str, int, int], float] = {}
    for run in client.experiments.list_runs(experiment_id):
        try:
            for entry in client.experiments.run_samples(experiment_id, run.id):
                value = entry.scores.get("acc", entry.scores.get("accuracy", entry.scores.get("exact_match")))
                if isinstance(value, int | float):
                    scores[(entry.benchmark, entry.doc_id, entry.repeat)] = float(value)
        except NotFoundError:
            return {}
    return scores


@experiments_app.command("compare")
def experiments_compare(
    ctx: typer.Context, experiment_a: str, experiment_b: str, output: OutputOpt = Output.table
) -> None:
    """Metrics of two experiments side by side, and paired tests on shared samples when both have ledgers."""
    with sdk(ctx) as client:
        a, b = client.experiments.get(experiment_a), client.experiments.get(experiment_b)
        ma, mb = client.experiments.get_metrics(a.id), client.experiments.get_metrics(b.id)
        la, lb = _ledger(client, str(a.id)), _ledger(client, str(b.id))
    names = sorted(set(ma.aggregated_metrics) | set(mb.aggregated_metrics))
    rows = []
    for n in names:
        va = ma.aggregated_metrics[n].mean if n in ma else None
        vb = mb.aggregated_metrics[n].mean if n in mb else None
        rows.append(
            {"metric": n, a.name: va, b.name: vb, "diff (b-a)": None if va is None or vb is None else vb - va}
        )
    paired = _paired(la, lb)
    if output is Output.json:
        emit(output, {"a": str(a.id), "b": str(b.id), "metrics": rows, "paired": paired})
        return
    emit(output, rows, [(c, col(c)) for c in ("metric", a.name, b.name, "diff (b-a)")])
    if paired is None:
        console.print("paired test: no shared sample ledger")
    else:
        console.print(
            f"paired on {paired['n']} samples: McNemar p={fmt(paired['mcnemar_p'])}, "
            f"paired bootstrap diff={fmt(paired['diff'])} "
            f"CI=[{fmt(paired['ci_low'])}, {fmt(paired['ci_high'])}]"
        )


def _paired(
    la: dict[tuple[str, int, int], float], lb: dict[tuple[str, int, int], float]
) -> dict[str, Any] | None:
    shared = sorted(set(la) & set(lb))
    if not shared:
        return None
    from llm_research_lab.engine.metrics import stats

    # b - a, so a positive difference means B is better.
    xa, xb = [la[k] for k in shared], [lb[k] for k in shared]
    boot = stats.paired_bootstrap(xb, xa)
    binary = all(v in (0.0, 1.0) for v in (*xa, *xb))
    return {
        "n": len(shared),
        "mcnemar_p": stats.mcnemar_exact(xb, xa).p_value if binary else None,
        "diff": boot.difference,
        "ci_low": boot.low,
        "ci_high": boot.high,
        "bootstrap_p": boot.p_value,
    }


# --------------------------------------------------------------------------- models


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    include_inactive: Annotated[bool, typer.Option(help="Also inactive models.")] = True,
    output: OutputOpt = Output.table,
) -> None:
    """Registered and runtime models (Eval Hub view)."""
    with sdk(ctx) as client:
        found = client.hub.models.list(include_inactive=include_inactive)
    rows = [*found.models, *found.runtime_models]
    emit(
        output,
        rows,
        [
            ("model_id", lambda m: m.model_id),
            ("name", lambda m: m.model_name),
            ("type", lambda m: m.model_type),
            ("status", lambda m: m.status),
            ("base_url", lambda m: m.base_url),
            ("runtime", lambda m: m.is_runtime),
        ],
    )


@models_app.command("add")
def models_add(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="Slug, e.g. groq-llama-3.1-70b.")],
    base_url: Annotated[str | None, typer.Option(help="Endpoint base URL.")] = None,
    model_type: Annotated[
        str, typer.Option("--type", help="openai-compatible, vllm, anthropic, ...")
    ] = "openai-compatible",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    model_path: Annotated[str | None, typer.Option(help="Model name sent to the endpoint.")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="Env var holding the endpoint's API key.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Register a model endpoint."""
    with sdk(ctx) as client:
        model = client.hub.models.create(
            model_id=model_id,
            model_name=name or model_id,
            model_type=model_type,
            base_url=base_url,
            model_path=model_path,
            api_key_env=api_key_env,
            api_key_required=api_key_env is not None,
            tags=tag or [],
        )
    emit(
        output,
        model,
        [("model_id", lambda m: m.model_id), ("id", lambda m: m.id), ("status", lambda m: m.status)],
    )


@models_app.command("probe")
def models_probe(ctx: typer.Context, model_id: str, output: OutputOpt = Output.table) -> None:
    """Probe what an endpoint supports (completions with logprobs, chat, tokenize)."""
    with sdk(ctx) as client:
        result = client.hub.models.probe(model_id)
    emit(output, result)


# --------------------------------------------------------------------------- catalog


@benchmarks_app.command("list")
def benchmarks_list(
    ctx: typer.Context,
    category: Annotated[str | None, typer.Option(help="Only this category (e.g. math).")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Benchmarks in the catalog."""
    with sdk(ctx) as client:
        rows = client.hub.benchmarks.list(category=category, provider_id=provider)
    emit(
        output,
        rows,
        [
            ("benchmark_id", lambda b: b.benchmark_id),
            ("provider", lambda b: b.provider_id),
            ("category", lambda b: b.category),
            ("metrics", lambda b: ",".join(b.metrics)),
            ("few-shot", lambda b: b.num_few_shot),
            ("data", lambda b: b.data_available),
        ],
    )


@collections_app.command("list")
def collections_list(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Benchmark collections."""
    with sdk(ctx) as client:
        rows = client.hub.collections.list()
    emit(
        output,
        rows,
        [
            ("collection_id", lambda c: c.collection_id),
            ("name", lambda c: c.name),
            ("benchmarks", lambda c: ", ".join(f"{r.provider_id}::{r.benchmark_id}" for r in c.benchmarks)),
        ],
    )


# --------------------------------------------------------------------------- datasets


@datasets_app.command("create")
def datasets_create(
    ctx: typer.Context,
    name: str,
    description: Annotated[str | None, typer.Option()] = None,
    format: Annotated[str, typer.Option("--format", help="jsonl, csv, parquet, ...")] = "jsonl",
    schema: Annotated[str | None, typer.Option(help="JSON Schema of a row (JSON text).")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Create a dataset."""
    with sdk(ctx) as client:
        ds = client.datasets.create(
            name, description=description, format=format, schema=_json_arg(schema, "--schema"), tags=tag
        )
    emit(
        output,
        ds,
        [
            ("id", col("id")),
            ("name", col("name")),
            ("format", col("format")),
        ],
    )


@datasets_app.command("upload")
def datasets_upload(
    ctx: typer.Context,
    dataset_id: str,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    content_type: Annotated[str | None, typer.Option()] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Upload a file (streamed through a signed URL)."""
    with sdk(ctx) as client:
        result = client.datasets.upload(dataset_id, path, content_type=content_type)
    if output is Output.json:
        emit(output, result)
    else:
        console.print(f"uploaded {path.name} ({path.stat().st_size} bytes)")


@datasets_app.command("download")
def datasets_download(
    ctx: typer.Context,
    dataset_id: str,
    path: Annotated[Path, typer.Argument(dir_okay=False)],
    version: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Download the dataset file to PATH (streamed)."""
    with sdk(ctx) as client:
        client.datasets.download(dataset_id, path, version=version)
    console.print(f"saved {path} ({path.stat().st_size} bytes)")


@datasets_app.command("versions")
def datasets_versions(
    ctx: typer.Context,
    dataset_id: str,
    create: Annotated[str | None, typer.Option("--create", help="Create this version first.")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    changelog: Annotated[str | None, typer.Option()] = None,
    output: OutputOpt = Output.table,
) -> None:
    """List a dataset's versions (or create one with --create)."""
    with sdk(ctx) as client:
        if create:
            client.datasets.versions.create(dataset_id, create, description=description, changelog=changelog)
        rows = list(client.datasets.versions.list(dataset_id))
    emit(
        output,
        rows,
        [
            ("version", col("version")),
            ("description", col("description")),
            ("created", col("created_at")),
        ],
    )


# --------------------------------------------------------------------------- prompts


@prompts_app.command("render")
def prompts_render(
    ctx: typer.Context,
    template_id: str,
    var: Annotated[list[str] | None, typer.Option("--var", help="name=value (repeatable).")] = None,
    variables: Annotated[str | None, typer.Option("--vars", help="Variables as a JSON object.")] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Render a prompt template with variables."""
    values: dict[str, Any] = dict(_json_arg(variables, "--vars") or {})
    for item in var or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise usage_error(f"--var expects name=value, got {item!r}")
        values[key] = value
    with sdk(ctx) as client:
        rendered = client.prompts.render(template_id, values)
    if output is Output.json:
        emit(output, {"rendered": rendered})
    else:
        typer.echo(rendered)
