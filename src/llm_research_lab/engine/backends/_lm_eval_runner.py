"""Subprocess entry point of the lm-evaluation-harness backend: ``python -m <this module> SPEC.json``.

Why a runner of ours instead of ``python -m lm_eval``: ``simple_evaluate`` hands back structured
results and every logged sample, so nothing is scraped from a printed table or from
EvaluationTracker's timestamped file names; it takes a ``TaskManager`` that indexes only our
generated task directory (no scan of lm-eval's ~10k built-in YAMLs, several seconds saved per run);
and it lets us count requests as they complete, which the CLI does not report (only tqdm bars).

The spec (JSON, written by ``backends.lm_eval``) holds no secrets; the API key arrives as the
``OPENAI_API_KEY`` environment variable, which is what lm-eval's API models read.

Stdout carries progress events, one per line: ``@@lab {"event": "progress", "done": n, "total": N}``
and finally ``@@lab {"event": "done"}``. Results go to ``<output_dir>/results.json`` and the logged
samples to ``<output_dir>/samples_<task>.jsonl``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

EVENT_PREFIX = "@@lab "


class _Progress:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def add_total(self, n: int) -> None:
        with self._lock:
            self.total += n
        self.emit(force=True)

    def add_done(self, n: int) -> None:
        with self._lock:
            self.done += n
        self.emit()

    def emit(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.2 and self.done < self.total:
            return
        self._last = now
        event = {"event": "progress", "done": self.done, "total": self.total}
        print(EVENT_PREFIX + json.dumps(event), flush=True)


def _count(messages: Any) -> int:
    return len(messages) if isinstance(messages, list | tuple) else 1


def _install_progress_hooks(progress: _Progress) -> None:
    """Count requests as lm-eval's API models complete them (sync and concurrent paths)."""
    from lm_eval.models.api_models import TemplateAPI

    ll_tokens = TemplateAPI._loglikelihood_tokens
    gen_until = TemplateAPI.generate_until
    model_call = TemplateAPI.model_call
    amodel_call = TemplateAPI.amodel_call

    def _loglikelihood_tokens(self: Any, requests: Any, *args: Any, **kwargs: Any) -> Any:
        progress.add_total(len(requests))
        return ll_tokens(self, requests, *args, **kwargs)

    def generate_until(self: Any, requests: Any, *args: Any, **kwargs: Any) -> Any:
        progress.add_total(len(requests))
        return gen_until(self, requests, *args, **kwargs)

    def sync_call(self: Any, messages: Any = None, *args: Any, **kwargs: Any) -> Any:
        out = model_call(self, messages, *args, **kwargs)
        progress.add_done(_count(messages))
        return out

    async def async_call(self: Any, session: Any, sem: Any, messages: Any = None, *a: Any, **kw: Any) -> Any:
        out = await amodel_call(self, session, sem, messages, *a, **kw)
        progress.add_done(_count(messages))
        return out

    TemplateAPI._loglikelihood_tokens = _loglikelihood_tokens
    TemplateAPI.generate_until = generate_until
    TemplateAPI.model_call = sync_call
    TemplateAPI.amodel_call = async_call


def _jsonable(value: Any) -> Any:
    """Results hold numpy scalars and tuples; make them plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _jsonable(item())
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return _jsonable(tolist())
    return str(value)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m llm_research_lab.engine.backends._lm_eval_runner SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    out_dir = Path(spec["output_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)

    import lm_eval
    from lm_eval.tasks import TaskManager

    model_args = dict(spec["model_args"])
    key = os.environ.get("OPENAI_API_KEY")
    if key and model_args.get("tokenizer_backend") == "remote":
        # The remote tokenizer's requests (/tokenize, ...) authenticate with auth_token, not the API key.
        model_args.setdefault("auth_token", key)
    progress = _Progress()
    _install_progress_hooks(progress)
    manager = TaskManager(
        include_path=spec.get("include_path"), include_defaults=bool(spec.get("include_defaults", False))
    )
    results = lm_eval.simple_evaluate(
        model=spec["model"],
        model_args=model_args,
        tasks=spec["tasks"],
        num_fewshot=spec.get("num_fewshot"),
        batch_size=spec.get("batch_size", 1),
        limit=spec.get("limit"),
        samples=spec.get("samples"),
        log_samples=True,
        gen_kwargs=spec.get("gen_kwargs") or None,
        apply_chat_template=spec.get("apply_chat_template", False),
        fewshot_as_multiturn=spec.get("fewshot_as_multiturn", False),
        system_instruction=spec.get("system_instruction"),
        task_manager=manager,
        random_seed=spec.get("random_seed", 0),
        numpy_random_seed=spec.get("numpy_random_seed", 1234),
        torch_random_seed=spec.get("torch_random_seed", 1234),
        fewshot_random_seed=spec.get("fewshot_random_seed", 1234),
        bootstrap_iters=spec.get("bootstrap_iters", 100000),
        confirm_run_unsafe_code=bool(spec.get("confirm_run_unsafe_code", False)),
    )
    if results is None:  # non-zero ranks in distributed runs; never here
        print("lm-eval returned no results", file=sys.stderr)
        return 3
    samples = results.pop("samples", {}) or {}
    for task, rows in samples.items():
        with (out_dir / f"samples_{task}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(_jsonable(row), ensure_ascii=False) + "\n")
    summary = {
        k: results.get(k)
        for k in ("results", "groups", "group_subtasks", "configs", "versions", "n-shot", "n-samples")
    }
    summary["lm_eval_version"] = getattr(lm_eval, "__version__", None)
    (out_dir / "results.json").write_text(json.dumps(_jsonable(summary), indent=1), encoding="utf-8")
    progress.emit(force=True)
    print(EVENT_PREFIX + json.dumps({"event": "done"}), flush=True)
    return 0


if __name__ == "__main__":
    from llm_research_lab.engine.backends._orphan_guard import exit_with_parent

    exit_with_parent()
    sys.exit(main(sys.argv[1:]))
