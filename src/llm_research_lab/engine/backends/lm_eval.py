"""The ``lm-evaluation-harness`` backend: the real ``lm_eval`` package, one subprocess per benchmark.

How a benchmark runs:
1. Task YAMLs are generated from the catalog's data (``lm_eval_tasks``) into a temporary
   ``include_path``; the subprocess indexes only that directory and reads only local files
   (``HF_HUB_OFFLINE=1``, ``HF_DATASETS_OFFLINE=1``, datasets cache inside the work dir).
2. The model is lm-eval's ``local-completions`` for log-likelihood tasks (and for generation when the
   model generates through ``/v1/completions``), else ``local-chat-completions`` with the chat
   template applied server-side. ``local-completions`` needs a tokenizer to find where the context
   ends; offline that is the endpoint's own (``tokenizer: remote``: vLLM's ``/tokenizer_info`` +
   ``/tokenize`` + ``/detokenize``) or a local tokenizer directory (``tokenizer: /path``, needs
   transformers). Requests are sent as text (``tokenized_requests=False``), so any OpenAI-compatible
   server works; the token ids only count the context.
3. ``_lm_eval_runner`` calls ``lm_eval.simple_evaluate`` and reports requests done on stdout while it
   runs; we turn that into documents done. Cancel and the time limit kill the process group.
4. ``results.json`` maps to our metric names (``acc,none`` -> ``acc`` + ``acc_stderr``;
   ``exact_match,strict-match`` -> ``exact_match_strict``) and every logged sample becomes a
   ``ScoredSample`` for the ledger.

Backend config (the Eval Hub ``backends[i].config``, overlaid by ``benchmarks[j].config``):
``batch_size`` (prompts per completions request, default 1), ``parallelism`` / ``num_concurrent``
(requests in flight, default the model's max_concurrency or 8), ``tokenizer`` (``auto`` | ``remote`` |
a local tokenizer path), ``max_length`` (default 8192 tokens), ``timeout_seconds`` (whole run),
``seed`` (all four lm-eval seeds and the request seed) or ``random_seed`` / ``numpy_random_seed`` /
``torch_random_seed`` / ``fewshot_random_seed``, ``gen_kwargs`` (dict, over the model's generation
settings), ``system_instruction``, ``apply_chat_template``, ``allow_hub`` (run lm-eval's built-in
task with hub downloads; off by default), ``keep_files``. ``device`` is accepted and ignored (the
model runs behind its endpoint).
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

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
    record_in_batches,
    supervise,
)
from llm_research_lab.engine.backends.lm_eval_tasks import (
    PreparedTasks,
    TaskDef,
    lm_eval_tasks_dir,
    prepare_tasks,
)
from llm_research_lab.engine.metrics.stats import aggregate_mean
from llm_research_lab.engine.models.base import ModelCapabilities, ModelSpec
from llm_research_lab.engine.models.http import resolve_api_key
from llm_research_lab.engine.models.openai import normalise_base_url
from llm_research_lab.engine.registry import backend
from llm_research_lab.engine.runner import Method, RunTiming
from llm_research_lab.engine.types import ProgressCallback, SampleSink, ScoredSample, _hash

NAME = "lm-evaluation-harness"
RUNNER_MODULE = "llm_research_lab.engine.backends._lm_eval_runner"
EVENT_PREFIX = "@@lab "
OPENAI_TYPES = frozenset({"openai-compatible", "vllm", "openai", "ollama"})
DEFAULT_TIMEOUT_S = 3600.0
DEFAULT_MAX_LENGTH = 8192

# lm-eval filter names -> our metric-name suffixes (gsm8k's two answer extractions).
FILTER_SUFFIX = {"none": "", "strict-match": "_strict", "flexible-extract": "_flexible"}


def metric_name(raw: str) -> str | None:
    """``acc,none`` -> ``acc``; ``exact_match,strict-match`` -> ``exact_match_strict``;
    ``acc_stderr,none`` -> ``acc_stderr``; non-metric keys (``alias``) -> None."""
    name, sep, filt = raw.partition(",")
    if not sep:
        return None
    stderr = name.endswith("_stderr")
    base = name.removesuffix("_stderr")
    suffix = FILTER_SUFFIX.get(filt, "_" + filt.replace("-", "_"))
    return f"{base}{suffix}" + ("_stderr" if stderr else "")


def map_metrics(raw: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in raw.items():
        name = metric_name(key)
        if name is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue  # "N/A" stderr, alias, sample_len
        if math.isfinite(float(value)):
            out[name] = float(value)
    return out


def _sample_scores(row: Mapping[str, Any]) -> dict[str, float]:
    suffix = FILTER_SUFFIX.get(str(row.get("filter", "none")), "_" + str(row.get("filter")).replace("-", "_"))
    scores: dict[str, float] = {}
    for metric in row.get("metrics") or []:
        value = row.get(metric)
        if isinstance(value, bool | int | float):
            scores[f"{metric}{suffix}"] = float(value)
    return scores


def samples_to_scored(
    benchmark: str, rows: Sequence[Mapping[str, Any]], *, method: Method, offset: int = 0
) -> list[ScoredSample]:
    """lm-eval's logged samples (one per doc and filter) -> one ScoredSample per doc.

    Multiple choice: the response is the continuation with the highest log-likelihood (as the
    native engine shows it) and ``extra`` keeps every choice's log-likelihood; generation: the raw
    generated text, with each filter's extracted answer in ``extra["filtered"]``.
    """
    by_doc: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_doc.setdefault(int(row["doc_id"]), []).append(row)
    out: list[ScoredSample] = []
    for doc_id in sorted(by_doc):
        group = by_doc[doc_id]
        first = group[0]
        args = [list(a) for a in first.get("arguments") or []]
        scores: dict[str, float] = {}
        for row in group:
            scores.update(_sample_scores(row))
        prompt = str(args[0][0]) if args and args[0] else ""
        extra: dict[str, Any] = {"method": method, "backend": NAME, "doc_hash": first.get("doc_hash")}
        target_raw = first.get("target")
        if method == "loglikelihood":
            lls = [float(r[0]) for r in first.get("filtered_resps") or []]
            greedy = [bool(r[1]) for r in first.get("filtered_resps") or []]
            best = max(range(len(lls)), key=lambda i: lls[i]) if lls else None
            response = str(args[best][1]) if best is not None and best < len(args) else ""
            if isinstance(target_raw, int) and 0 <= target_raw < len(args):
                target = str(args[target_raw][1]).removeprefix(" ")
            else:
                target = str(target_raw)
            extra.update(logprobs=lls, is_greedy=greedy)
            requests = [{"t": "ll", "c": a[0], "x": a[1]} for a in args]
        else:
            resps = first.get("resps") or [[""]]
            response = str(resps[0][0]) if resps and resps[0] else ""
            target = str(target_raw)
            extra["filtered"] = {str(r.get("filter")): _first(r.get("filtered_resps")) for r in group}
            requests = [{"t": "gen", "c": a[0], "k": a[1] if len(a) > 1 else None} for a in args]
        out.append(
            ScoredSample(
                benchmark=benchmark,
                doc_id=offset + doc_id,
                request_hash=_hash({"backend": NAME, "r": requests}),
                prompt=prompt,
                response=response,
                target=target,
                scores=scores,
                extra=extra,
            )
        )
    return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def read_samples(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


# --------------------------------------------------------------------------- the backend


class LmEvalBackend(SubprocessBackend):
    """Runs catalog benchmarks with lm-evaluation-harness; see the module docstring."""

    name = NAME

    # -- configuration ---------------------------------------------------------------------------

    def _capabilities(self, model: ModelSpec) -> ModelCapabilities:
        if model.model_type not in OPENAI_TYPES:
            raise BackendError(
                f"the {NAME} backend talks to OpenAI-compatible endpoints; model type "
                f"{model.model_type!r} is not one (use the native backend)"
            )
        if model.capabilities is not None:
            return model.capabilities
        chat_only = model.model_type == "openai"
        return ModelCapabilities(
            supports_logprobs=not chat_only and model.model_type != "ollama",
            supports_completions=not chat_only,
            supports_chat=True,
        )

    async def _tokenizer_args(self, model: ModelSpec, cfg: Mapping[str, Any], root: str) -> dict[str, Any]:
        choice = str(cfg.get("tokenizer") or "auto")
        if choice in ("remote", "auto"):
            if await remote_tokenizer_available(root, model, self.environ):
                return {"tokenizer_backend": "remote"}
            if choice == "remote":
                raise BackendError(
                    f"{root} does not serve /tokenizer_info + /tokenize + /detokenize (vLLM: start it "
                    "with --enable-tokenizer-info-endpoint), which tokenizer: remote needs"
                )
            raise BackendError(
                f"lm-evaluation-harness needs a tokenizer for log-likelihood tasks and {root} serves none "
                "(/tokenizer_info + /tokenize + /detokenize, as vLLM with --enable-tokenizer-info-endpoint); "
                "set the backend config 'tokenizer' to a local tokenizer directory, or use the native "
                "backend, which needs no tokenizer"
            )
        path = Path(choice).expanduser()
        if not path.exists():
            raise BackendError(f"tokenizer {choice!r} is neither 'auto', 'remote' nor an existing local path")
        return {"tokenizer_backend": "huggingface", "tokenizer": str(path.resolve())}

    async def _model_args(
        self, model: ModelSpec, td: TaskDef, cfg: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any], bool, Method]:
        """(lm-eval model name, model_args, apply_chat_template, method)."""
        caps = self._capabilities(model)
        if not model.base_url:
            raise BackendError(f"model {model.model_name!r} has no base_url")
        root = normalise_base_url(model.base_url)
        parallel = opt_int(cfg, "parallelism", "num_concurrent", default=model.max_concurrency or 8) or 1
        seed = opt_int(cfg, "seed", default=1234)
        common: dict[str, Any] = {
            "model": model.model_name,
            "num_concurrent": max(1, parallel),
            "max_retries": max(1, model.max_retries),
            "timeout": int(opt_float(cfg, "request_timeout", default=model.timeout) or model.timeout),
            "seed": seed,
        }
        if td.request_type == "loglikelihood":
            if not (caps.supports_logprobs and caps.supports_completions):
                raise BackendError(
                    f"{td.yaml.split('/')[0]} needs log-likelihoods (echo + logprobs on /v1/completions), "
                    f"which {root} does not provide (chat-only); lm-evaluation-harness has no generative "
                    "fallback: use the native backend, which asks for the answer letter instead"
                )
            args = {**common, "base_url": root + "/v1/completions", "tokenized_requests": False}
            args["max_length"] = opt_int(cfg, "max_length", default=DEFAULT_MAX_LENGTH)
            args.update(await self._tokenizer_args(model, cfg, root))
            return "local-completions", args, False, "loglikelihood"
        use_completions = model.generation_endpoint == "completions" or not caps.supports_chat
        if use_completions:
            if not caps.supports_completions:
                raise BackendError(f"{root} supports neither chat nor completions")
            args = {**common, "base_url": root + "/v1/completions", "tokenized_requests": False}
            args["max_length"] = opt_int(cfg, "max_length", default=DEFAULT_MAX_LENGTH)
            # Generation needs no token counts; a tokenizer only helps truncation, so none is fine.
            tok = str(cfg.get("tokenizer") or "auto")
            args.update(
                await self._tokenizer_args(model, cfg, root)
                if tok not in ("auto", "none")
                else {"tokenizer_backend": "none"}
            )
            return "local-completions", args, bool(cfg.get("apply_chat_template", False)), "generate_until"
        args = {**common, "base_url": root + "/v1/chat/completions", "tokenizer_backend": "none"}
        return "local-chat-completions", args, True, "generate_until"

    def _gen_kwargs(self, model: ModelSpec, cfg: Mapping[str, Any]) -> dict[str, Any]:
        g = model.generation
        out: dict[str, Any] = {}
        if g.temperature is not None:
            out["temperature"] = g.temperature
            out["do_sample"] = g.temperature > 0
        if g.top_p is not None:
            out["top_p"] = g.top_p
        if g.max_tokens is not None:
            out["max_gen_toks"] = g.max_tokens
        out.update(g.extra_body)
        extra = cfg.get("gen_kwargs") or {}
        if not isinstance(extra, Mapping):
            raise BackendError("config 'gen_kwargs' must be a mapping")
        out.update(extra)
        return out

    # -- run -------------------------------------------------------------------------------------

    async def run(
        self,
        model: ModelSpec,
        task: BackendTask,
        sink: SampleSink,
        *,
        progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> BackendRunResult:
        """Evaluate `task` on `model` with lm-eval; samples go to `sink` when lm-eval has scored them.

        Raises BackendError (config, unsupported task, no data, no tokenizer), BackendTimeoutError,
        BackendProcessError (the subprocess failed; message ends with its stderr). A set `cancel`
        kills the subprocess and returns status "cancelled".
        """
        started = time.perf_counter()
        cfg = merged_config(self.config, task)
        timeout = opt_float(cfg, "timeout_seconds", default=DEFAULT_TIMEOUT_S)
        base = Path(tempfile.mkdtemp(prefix="lab-lmeval-", dir=self.work_dir))
        try:
            prepared = await asyncio.to_thread(
                prepare_tasks, task.benchmark_id, self.resolver, base / "tasks"
            )
            td = prepared.task_def
            lm_model, model_args, chat_template, method = await self._model_args(model, td, cfg)
            shots = task.num_fewshot if task.num_fewshot is not None else td.default_num_fewshot
            total = sum(n if task.limit is None else min(task.limit, n) for n in prepared.leaf_docs.values())
            completed = dict(await sink.completed(task.benchmark_id))
            selection = self._selection(prepared, task.limit, completed, shots)
            if selection is not None and not any(selection.values()):
                return self._from_ledger(task.benchmark_id, method, completed, total, started)
            spec = {
                "model": lm_model,
                "model_args": model_args,
                "tasks": [prepared.task_name],
                "include_path": str(prepared.include_path),
                "include_defaults": False,
                "num_fewshot": shots,
                "limit": task.limit if selection is None else None,
                "samples": selection,
                "batch_size": opt_int(cfg, "batch_size", default=1),
                "gen_kwargs": self._gen_kwargs(model, cfg) if td.request_type == "generate_until" else None,
                "apply_chat_template": chat_template,
                "fewshot_as_multiturn": chat_template and shots > 0,
                "system_instruction": cfg.get("system_instruction"),
                "output_dir": str(base / "out"),
                **self._seeds(cfg),
            }
            spec_path = base / "spec.json"
            spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
            env = self._env(model, base)
            resumed = len(completed) if selection is not None else 0
            on_line = _progress_reader(task.benchmark_id, total, resumed, progress)
            if progress is not None:
                await progress(task.benchmark_id, resumed, total, {})
            outcome = await supervise(
                [self.python, "-m", RUNNER_MODULE, str(spec_path)],
                env=env,
                cwd=base,
                on_stdout_line=on_line,
                cancel=cancel,
                timeout=timeout,
            )
            if outcome.cancelled:
                return cancelled_result(NAME, task.benchmark_id, method, total, started)
            if outcome.timed_out:
                raise BackendTimeoutError(
                    f"{NAME}: {task.benchmark_id} ran past its {timeout:.0f} s limit and was killed"
                )
            if outcome.returncode != 0 and _missing_lm_eval(outcome.stderr_tail):
                raise BackendUnavailableError(
                    f"{NAME}: the lm-eval package cannot be imported by {self.python} "
                    "(install it with: pip install 'llm-research-lab[lmeval]')"
                )
            if outcome.returncode != 0:
                raise BackendProcessError(
                    f"{NAME}: lm_eval exited with code {outcome.returncode} on {task.benchmark_id}",
                    returncode=outcome.returncode,
                    stderr_tail=outcome.stderr_tail,
                )
            return await self._collect(
                prepared, base / "out", sink, method, total, completed, selection, started, spec
            )
        finally:
            if not cfg.get("keep_files"):
                await asyncio.to_thread(shutil.rmtree, base, True)

    def _seeds(self, cfg: Mapping[str, Any]) -> dict[str, int]:
        seed = opt_int(cfg, "seed")
        out: dict[str, int] = {}
        for key, default in (
            ("random_seed", 0),
            ("numpy_random_seed", 1234),
            ("torch_random_seed", 1234),
            ("fewshot_random_seed", 1234),
        ):
            value = opt_int(cfg, key, default=seed if seed is not None else default)
            assert value is not None
            out[key] = value
        return out

    def _env(self, model: ModelSpec, base: Path) -> dict[str, str]:
        extra = {
            "HF_HOME": str(base / "hf"),
            "HF_DATASETS_CACHE": str(base / "hf" / "datasets"),
            "TQDM_DISABLE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        key = resolve_api_key(model, self.environ)
        # lm-eval's API models read the key from OPENAI_API_KEY; never from the spec file or argv.
        extra["OPENAI_API_KEY"] = key or ""
        return child_environment(self.environ, extra, offline=not self.config.get("allow_hub"))

    @staticmethod
    def _selection(
        prepared: PreparedTasks, limit: int | None, completed: Mapping[int, ScoredSample], shots: int
    ) -> dict[str, list[int]] | None:
        """Doc indices per task still to run on resume, or None to run everything up to `limit`.

        Only when the prompts do not depend on which documents run: lm-eval's random few-shot
        sampler draws in evaluation order, so a subset would get different shots than a full run.
        """
        if not completed or prepared.is_group:
            return None
        if shots > 0 and not prepared.task_def.first_n_fewshot:
            return None
        name = prepared.task_name
        n = prepared.leaf_docs[name]
        upto = n if limit is None else min(limit, n)
        return {name: [i for i in range(upto) if i not in completed]}

    def _from_ledger(
        self,
        benchmark: str,
        method: Method,
        completed: Mapping[int, ScoredSample],
        total: int,
        started: float,
    ) -> BackendRunResult:
        per_doc = [completed[i].scores for i in sorted(completed) if i < total]
        return BackendRunResult(
            benchmark=benchmark,
            method=method,
            status="completed",
            metrics=aggregate_mean(per_doc),
            num_docs=total,
            num_scored=0,
            num_resumed=len(per_doc),
            num_failed=0,
            timing=RunTiming(wall_seconds=time.perf_counter() - started),
            backend=NAME,
            details={"metrics_source": "ledger"},
        )

    async def _collect(
        self,
        prepared: PreparedTasks,
        out_dir: Path,
        sink: SampleSink,
        method: Method,
        total: int,
        completed: Mapping[int, ScoredSample],
        selection: Mapping[str, list[int]] | None,
        started: float,
        spec: Mapping[str, Any],
    ) -> BackendRunResult:
        results_path = out_dir / "results.json"
        if not results_path.is_file():
            raise BackendError(f"{NAME}: lm_eval finished without writing {results_path}")
        summary = json.loads(results_path.read_text(encoding="utf-8"))
        bench = prepared.task_name
        raw = (summary.get("results") or {}).get(bench) or (summary.get("groups") or {}).get(bench) or {}
        offsets = prepared.leaf_offsets() if prepared.is_group else {bench: 0}
        scored: list[ScoredSample] = []
        for leaf, offset in offsets.items():
            rows = await asyncio.to_thread(read_samples, out_dir / f"samples_{leaf}.jsonl")
            scored += samples_to_scored(bench, rows, method=method, offset=offset)
        fresh = [s for s in scored if s.doc_id not in completed]
        await record_in_batches(sink, fresh)
        resumed = len(completed) if selection is not None else 0
        if selection is not None:
            # lm-eval scored only the remaining docs: the benchmark's score is over all of them.
            per_doc = [s.scores for s in scored] + [
                completed[i].scores for i in sorted(completed) if i < total
            ]
            metrics = aggregate_mean(per_doc)
            source = "ledger+lm_eval"
        else:
            metrics = map_metrics(raw)
            source = "lm_eval"
        wall = time.perf_counter() - started
        return BackendRunResult(
            benchmark=bench,
            method=method,
            status="completed",
            metrics=metrics,
            num_docs=total,
            num_scored=len(scored),
            num_resumed=resumed,
            num_failed=0,
            timing=RunTiming(wall_seconds=wall, samples_per_second=len(scored) / wall if wall > 0 else 0.0),
            backend=NAME,
            details={
                "lm_eval_version": summary.get("lm_eval_version"),
                "lm_eval_model": spec["model"],
                "num_fewshot": spec["num_fewshot"],
                "raw_metrics": raw,
                "versions": summary.get("versions"),
                "metrics_source": source,
            },
        )


def _missing_lm_eval(stderr_tail: str) -> bool:
    """Whether the subprocess died because its interpreter has no (importable) lm_eval package."""
    return "No module named 'lm_eval'" in stderr_tail or "No module named lm_eval" in stderr_tail


def _progress_reader(benchmark: str, total_docs: int, resumed: int, progress: ProgressCallback | None) -> Any:
    """Turns the runner's request counts into documents done (requests per doc are uniform enough)."""

    async def on_line(line: str) -> None:
        if progress is None or not line.startswith(EVENT_PREFIX):
            return
        try:
            event = json.loads(line[len(EVENT_PREFIX) :])
        except ValueError:
            return
        if event.get("event") != "progress" or not event.get("total"):
            return
        remaining = total_docs - resumed
        done = resumed + int(remaining * min(1.0, event["done"] / event["total"]))
        await progress(benchmark, done, total_docs, {})

    return on_line


async def remote_tokenizer_available(
    root: str, model: ModelSpec, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether `root` serves what lm-eval's remote tokenizer needs (GET /tokenizer_info, POST /tokenize)."""
    key = resolve_api_key(model, environ)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with httpx.AsyncClient(timeout=10.0, headers=headers) as http:
            info = await http.get(root + "/tokenizer_info")
            if info.status_code != 200:
                return False
            tok = await http.post(root + "/tokenize", json={"prompt": "test", "add_special_tokens": False})
            return tok.status_code == 200 and isinstance(tok.json().get("tokens"), list)
    except (httpx.HTTPError, ValueError):
        return False


@backend(NAME)
def create_lm_eval_backend(
    config: Mapping[str, Any] | None = None,
    *,
    resolver: DataResolver,
    environ: Mapping[str, str] | None = None,
    work_dir: Path | None = None,
) -> LmEvalBackend:
    """The registered factory: ``BACKENDS["lm-evaluation-harness"](config, resolver=...)``.

    Raises BackendUnavailableError naming the extra to install when lm-eval is missing.
    """
    lm_eval_tasks_dir()
    return LmEvalBackend(config, resolver=resolver, environ=environ, work_dir=work_dir)
