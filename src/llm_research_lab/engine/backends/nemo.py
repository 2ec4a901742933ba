"""The ``nemo-evaluator`` backend: NVIDIA NeMo Evaluator, local (default) or remote mode.

Local mode runs the real nemo-evaluator core (0.2.5, extra ``[nemo]``) in a subprocess
(``_nemo_runner``). Catalog benchmarks with local data (arc_challenge, gsm8k, mmlu, hellaswag, ...)
are handed over as bring-your-own benchmarks: a JSONL dataset written from the catalog's data (the
native engine's 0-shot prompt; multiple choice asks for the answer letter, since a chat endpoint gives
no log-likelihoods), a prompt, and a scorer module. nemo-evaluator sends the requests to
``config.model_endpoint`` (or the registered model's endpoint) through its adapter server and writes
``results.yml``; ``results.tasks.<task>.metrics.<metric>.scores.<score>`` becomes our metrics
(``value`` -> ``<score>``, ``stats.stderr`` -> ``<score>_stderr``). Named NeMo tasks that need a
framework package and data this server does not have (``mmlu_pro``, ``hendrycks_math``, ...) fail with
a BackendUnavailableError naming why. ``NEMO_EVALUATOR_TELEMETRY_LEVEL=0`` always.

Backend config (Eval Hub ``backends[i].config``, overlaid by ``benchmarks[j].config``):
``mode`` (``local`` | ``remote``), ``model_endpoint`` (full URL, e.g. ``.../v1/chat/completions``),
``endpoint_type`` (``chat`` | ``completions``), ``api_key_env``, ``limit_samples`` / ``limit``,
``parallelism``, ``temperature``, ``top_p``, ``max_tokens``, ``request_timeout``, ``max_retries``,
``timeout_seconds`` (whole run), ``port`` (where nemo-evaluator's adapter server listens: the first
port from ``port``, default 3825, that is free and not held by another run of this server, so two jobs
started together never share one), ``adapter_port`` (exactly this port, no search), ``keep_files``.

Remote mode (``nemo_remote``) runs each benchmark as a job on a NeMo Evaluator microservice through its
v1 REST API (``endpoint``, ``port``, ``scheme``, ``verify_ssl``, ``namespace``, ``config_type``,
``poll_interval_seconds``, ``service_api_key_env``); the service runs named NeMo tasks too.

Local mode imports per-document samples into the ledger: the runner asks BYOB for
``byob_predictions.jsonl`` (prompt, response, target, scores per sample). Remote mode cannot: the v1
API returns aggregate results only.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from llm_research_lab.catalog.resolver import DataResolver
from llm_research_lab.engine.backends.base import (
    BackendError,
    BackendProcessError,
    BackendRunResult,
    BackendTask,
    BackendTimeoutError,
    BackendUnavailableError,
    SubprocessBackend,
    cancelled_result,
    child_environment,
    merged_config,
    opt_float,
    opt_int,
    supervise,
)
from llm_research_lab.engine.models.base import ModelSpec
from llm_research_lab.engine.models.openai import normalise_base_url
from llm_research_lab.engine.registry import BENCHMARKS, backend, create_benchmark
from llm_research_lab.engine.runner import Method, RunTiming
from llm_research_lab.engine.types import ProgressCallback, SampleSink, ScoredSample

NAME = "nemo-evaluator"
RUNNER_MODULE = "llm_research_lab.engine.backends._nemo_runner"
DEFAULT_TIMEOUT_S = 3600.0
LETTERS = "ABCDEFGHIJ"
INSTALL_HINT = "install it with: pip install 'llm-research-lab[nemo]'"

SCORER_MODULE = '''"""Scorer of the lab's {name} benchmark (generated)."""
import re
from nemo_evaluator.contrib.byob import benchmark, scorer, ScorerInput

KIND = {kind!r}


def _number(text):
    nums = re.findall(r"-?[0-9][0-9,]*\\.?[0-9]*", text)
    return nums[-1].replace(",", "").rstrip(".") if nums else None


@benchmark(name={name!r}, dataset={dataset!r}, prompt="{{prompt}}", target_field="target",
           endpoint_type={endpoint_type!r})
@scorer
def score(inp: ScorerInput):
    response = inp.response or ""
    if KIND == "letter":
        m = re.search(r"\\b([A-J])\\b", response.strip().upper())
        return {{"acc": bool(m) and m.group(1) == inp.target}}
    return {{"exact_match": _number(response) == inp.target}}
'''


DEFAULT_ADAPTER_PORT = 3825
PORT_SEARCH_SPAN = 200
# Adapter ports held by runs of this process. nemo-evaluator's own search (from 3825) races when two
# jobs start together: both see 3825 free, and one job's requests reach the other job's adapter.
_held_ports: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hold_adapter_port(preferred: int = DEFAULT_ADAPTER_PORT) -> int:
    """The first port from `preferred` that is bindable and not held by another run; held until
    `release_adapter_port`. Falls back to any free port when the whole span is taken."""
    for port in range(preferred, min(preferred + PORT_SEARCH_SPAN, 65536)):
        if port not in _held_ports and _bindable(port):
            _held_ports.add(port)
            return port
    port = _free_port()
    _held_ports.add(port)
    return port


def release_adapter_port(port: int) -> None:
    _held_ports.discard(port)


def nemo_available() -> bool:
    return importlib.util.find_spec("nemo_evaluator") is not None


def map_results(results: Mapping[str, Any]) -> dict[str, float]:
    """``results.yml`` -> metrics: each score's value as ``<score>`` (``<metric>_<score>`` when the
    score name repeats across metrics) and its ``stats.stderr`` as ``<score>_stderr``."""
    out: dict[str, float] = {}
    body = results.get("results", results)
    for section in ("tasks", "groups"):
        for task in (body.get(section) or {}).values():
            for metric, mval in ((task or {}).get("metrics") or {}).items():
                for score, sval in ((mval or {}).get("scores") or {}).items():
                    name = score if score not in out else f"{metric}_{score}"
                    value = (sval or {}).get("value")
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        out[name] = float(value)
                    stderr = ((sval or {}).get("stats") or {}).get("stderr")
                    if isinstance(stderr, int | float) and math.isfinite(float(stderr)):
                        out[f"{name}_stderr"] = float(stderr)
    return out


def predictions_to_scored(benchmark: str, lines: Iterable[str]) -> list[ScoredSample]:
    """BYOB's ``byob_predictions.jsonl`` rows -> ledger samples. Skipped samples (model error,
    missing field) are kept with empty scores and their error, so the ledger shows why."""
    out: list[ScoredSample] = []
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        scores = {
            str(k): float(v)
            for k, v in (row.get("scores") or {}).items()
            if isinstance(v, int | float)  # bool is an int: True -> 1.0
        }
        prompt = str(row.get("prompt") or "")
        extra: dict[str, Any] = {"method": "generate_until", "backend": NAME, "status": row.get("status")}
        if row.get("error"):
            extra["error"] = str(row["error"])
        out.append(
            ScoredSample(
                benchmark=benchmark,
                doc_id=int(row["sample_id"]),
                request_hash=hashlib.sha256(f"{NAME}\0{prompt}".encode()).hexdigest()[:32],
                prompt=prompt,
                response="" if row.get("response") is None else str(row["response"]),
                target=str(row.get("target", "")),
                scores=scores,
                extra=extra,
            )
        )
    return out


def gsm8k_answer(target: str) -> str:
    return target.split("####")[-1].strip().replace(",", "")


def byob_rows(
    benchmark_id: str, resolver: DataResolver, limit: int | None
) -> tuple[list[dict[str, str]], str]:
    """(dataset rows {prompt, target}, scorer kind) for a catalog benchmark with local data."""
    if benchmark_id not in BENCHMARKS:
        raise BackendUnavailableError(
            f"{NAME}: '{benchmark_id}' is a NeMo Evaluator framework task; running it needs its framework "
            "package and dataset, which this server does not have (nemo-evaluator core ships no task data "
            "and this server runs offline). Run it in remote mode against a NeMo Evaluator service "
            "(config mode: remote), or pick a catalog benchmark with local data"
        )
    bench = create_benchmark(benchmark_id)
    try:
        docs = bench.docs(resolver.source(benchmark_id))
    except Exception as exc:  # the catalog's "no data" errors, whatever their class
        raise BackendUnavailableError(f"{NAME}: no local data for '{benchmark_id}': {exc}") from exc
    n = len(docs) if limit is None else min(limit, len(docs))
    rows: list[dict[str, str]] = []
    kind = "number"
    for i in range(n):
        p = bench.build(docs[i], i, [])
        if p.method == "loglikelihood":
            kind = "letter"
            if p.gold is None or len(p.choices) > len(LETTERS):
                raise BackendError(f"{NAME}: '{benchmark_id}' has no single gold answer to ask for")
            options = "\n".join(f"{LETTERS[j]}. {c}" for j, c in enumerate(p.choices))
            prompt = f"{p.prompt.removesuffix('Answer:').rstrip()}\n{options}\nAnswer with the letter only."
            rows.append({"prompt": prompt, "target": LETTERS[p.gold]})
        else:
            rows.append({"prompt": p.prompt, "target": gsm8k_answer(str(p.target))})
    return rows, kind


class NemoEvaluatorBackend(SubprocessBackend):
    """Runs benchmarks with NeMo Evaluator; see the module docstring."""

    name = NAME

    def _model_url(self, model: ModelSpec, cfg: Mapping[str, Any], endpoint_type: str) -> str:
        url = cfg.get("model_endpoint")
        if url:
            return str(url)
        if not model.base_url:
            raise BackendError(f"{NAME}: no model_endpoint in the config and model has no base_url")
        path = "/v1/chat/completions" if endpoint_type == "chat" else "/v1/completions"
        return normalise_base_url(model.base_url) + path

    async def run(
        self,
        model: ModelSpec,
        task: BackendTask,
        sink: SampleSink,
        *,
        progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> BackendRunResult:
        """Evaluate `task` on `model` with NeMo Evaluator (local subprocess or remote service)."""
        cfg = merged_config(self.config, task)
        if str(cfg.get("mode") or "local") == "remote":
            # Imported here: nemo_remote imports this module (map_results).
            from llm_research_lab.engine.backends.nemo_remote import run_remote

            return await run_remote(self, model, task, cfg, progress, cancel)
        return await self._run_local(model, task, cfg, sink, progress, cancel)

    async def _run_local(
        self,
        model: ModelSpec,
        task: BackendTask,
        cfg: Mapping[str, Any],
        sink: SampleSink,
        progress: ProgressCallback | None,
        cancel: asyncio.Event | None,
    ) -> BackendRunResult:
        started = time.perf_counter()
        if not nemo_available():
            raise BackendUnavailableError(
                f"{NAME}: the nemo-evaluator package is not installed; {INSTALL_HINT}"
            )
        endpoint_type = str(cfg.get("endpoint_type") or "chat")
        if endpoint_type not in ("chat", "completions"):
            raise BackendError(
                f"{NAME}: endpoint_type must be 'chat' or 'completions', got {endpoint_type!r}"
            )
        limit = task.limit if task.limit is not None else opt_int(cfg, "limit_samples")
        rows, kind = await asyncio.to_thread(byob_rows, task.benchmark_id, self.resolver, limit)
        method: Method = "generate_until"
        timeout = opt_float(cfg, "timeout_seconds", default=DEFAULT_TIMEOUT_S)
        held: int | None = None
        base = Path(tempfile.mkdtemp(prefix="lab-nemo-", dir=self.work_dir))
        try:
            name = "lab_" + re.sub(r"[^a-z0-9_]", "_", task.benchmark_id.lower())
            dataset = base / "data.jsonl"
            dataset.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            module = base / f"{name}_bench.py"
            module.write_text(
                SCORER_MODULE.format(name=name, dataset=str(dataset), kind=kind, endpoint_type=endpoint_type),
                encoding="utf-8",
            )
            overrides = [f"config.params.limit_samples={len(rows)}"]
            for key, param in (
                ("parallelism", "parallelism"),
                ("temperature", "temperature"),
                ("top_p", "top_p"),
                ("max_tokens", "max_new_tokens"),
                ("request_timeout", "request_timeout"),
                ("max_retries", "max_retries"),
            ):
                value = cfg.get(key)
                if value is None and key in ("temperature", "top_p", "max_tokens"):
                    value = getattr(model.generation, key)
                if value is not None:
                    overrides.append(f"config.params.{param}={value}")
            args = [
                "--model_id", model.model_name,
                "--model_url", self._model_url(model, cfg, endpoint_type),
                "--model_type", endpoint_type,
                "--output_dir", str(base / "out"),
                "--overrides", ",".join(overrides),
            ]  # fmt: skip
            key_env = cfg.get("api_key_env") or model.api_key_env
            if key_env:
                source = os.environ if self.environ is None else self.environ
                if not source.get(str(key_env)):
                    raise BackendError(
                        f"{NAME}: api_key_env {key_env!r} is not set in the server's environment "
                        "(nemo-evaluator reads the model's API key from it)"
                    )
                args += ["--api_key_name", str(key_env)]
            spec = {"benchmark_module": str(module), "install_dir": str(base / "pkgs"), "args": args}
            spec_path = base / "spec.json"
            spec_path.write_text(json.dumps(spec), encoding="utf-8")
            extra = {"NEMO_EVALUATOR_TELEMETRY_LEVEL": "0", "HOME": str(base)}
            exact = opt_int(cfg, "adapter_port")
            if exact is None:
                adapter_port = hold_adapter_port(opt_int(cfg, "port") or DEFAULT_ADAPTER_PORT)
                held = adapter_port
            else:
                adapter_port = exact
            extra["ADAPTER_PORT"] = str(adapter_port)
            env = child_environment(self.environ, extra)
            if progress is not None:
                await progress(task.benchmark_id, 0, len(rows), {})
            outcome = await supervise(
                [self.python, "-m", RUNNER_MODULE, str(spec_path)],
                env=env,
                cwd=base,
                cancel=cancel,
                timeout=timeout,
            )
            if outcome.cancelled:
                return cancelled_result(NAME, task.benchmark_id, method, len(rows), started)
            if outcome.timed_out:
                raise BackendTimeoutError(f"{NAME}: {task.benchmark_id} ran past its {timeout:.0f} s limit")
            results_path = base / "out" / "results.yml"
            if outcome.returncode != 0 or not results_path.is_file():
                raise BackendProcessError(
                    f"{NAME}: nemo-evaluator exited with code {outcome.returncode} on {task.benchmark_id}",
                    returncode=outcome.returncode,
                    stderr_tail=outcome.stderr_tail,
                )
            raw = yaml.safe_load(results_path.read_text(encoding="utf-8")) or {}
            metrics = map_results(raw)
            predictions = base / "out" / "byob_predictions.jsonl"
            if predictions.is_file():
                text = predictions.read_text(encoding="utf-8")
                await sink.record(predictions_to_scored(task.benchmark_id, text.splitlines()))
            if progress is not None:
                await progress(task.benchmark_id, len(rows), len(rows), {})
            wall = time.perf_counter() - started
            return BackendRunResult(
                benchmark=task.benchmark_id,
                method=method,
                status="completed",
                metrics=metrics,
                num_docs=len(rows),
                num_scored=len(rows),
                num_resumed=0,
                num_failed=0,
                timing=RunTiming(wall_seconds=wall),
                backend=NAME,
                details={
                    "mode": "local",
                    "adapter_port": adapter_port,
                    "version": metadata.version("nemo-evaluator"),
                    "nemo_task": name,
                    "results": raw.get("results"),
                    "num_fewshot": 0,
                },
            )
        finally:
            if held is not None:
                release_adapter_port(held)
            if not cfg.get("keep_files"):
                await asyncio.to_thread(shutil.rmtree, base, True)


@backend(NAME)
def create_nemo_backend(
    config: Mapping[str, Any] | None = None,
    *,
    resolver: DataResolver,
    environ: Mapping[str, str] | None = None,
    work_dir: Path | None = None,
) -> NemoEvaluatorBackend:
    """The registered factory: ``BACKENDS["nemo-evaluator"](config, resolver=...)``."""
    return NemoEvaluatorBackend(config, resolver=resolver, environ=environ, work_dir=work_dir)
