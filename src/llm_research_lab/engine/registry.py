"""Typed plugin registry: benchmarks, metrics, scorers and backends.

Built-in plugins register themselves with decorators when their module is imported; third-party
packages add more through the entry-point group ``llm_research_lab.plugins`` (each entry point names a
module, or a callable that is called once with no arguments, which registers whatever it likes):

    [project.entry-points."llm_research_lab.plugins"]
    my_tasks = "my_package.lab_plugins"

    from llm_research_lab.engine.registry import benchmark

    @benchmark("my_task")
    def make_my_task() -> Benchmark: ...

Lookups of unknown names raise :class:`UnknownPluginError` (a ``KeyError``) with "did you mean"
suggestions, because a misspelt task name is the most common user error in evaluation harnesses.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from llm_research_lab.engine.benchmarks.base import Benchmark, PreparedDoc
    from llm_research_lab.engine.types import Response

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "llm_research_lab.plugins"

T = TypeVar("T")

#: A benchmark factory: called once per evaluation, so per-run caches never leak between runs. Called
#: with no arguments for the default format; built-ins also accept ``method="generative_letter"``
#: (multiple choice on chat-only endpoints) and HumanEval ``execute=`` (the sandbox).
BenchmarkFactory = Callable[..., "Benchmark"]
#: A sample-level metric: (prediction, references) -> score.
MetricFn = Callable[[str, Sequence[str]], float]
#: A document-level scorer: (prepared document, model responses) -> scores by metric name.
ScorerFn = Callable[["PreparedDoc", Sequence["Response"]], dict[str, float]]
#: A backend factory; its signature belongs to the backends package, so it stays open here.
BackendFactory = Callable[..., Any]


class UnknownPluginError(KeyError):
    """An unknown name was looked up in a registry; carries close matches."""

    def __init__(self, kind: str, name: str, suggestions: Sequence[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions)
        hint = f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        self.message = f"unknown {kind} {name!r}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        # KeyError's str() repr-quotes its argument, which would mangle the message.
        return self.message


class DuplicatePluginError(ValueError):
    """A name was registered twice with different objects."""


def suggest(name: str, candidates: Sequence[str], n: int = 3) -> list[str]:
    """Close matches for `name` among `candidates` (case-insensitive, difflib ratio >= 0.6)."""
    lowered = {c.lower(): c for c in candidates}
    return [lowered[m] for m in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)]


class Registry(Generic[T], Mapping[str, T]):
    """A named, typed mapping with decorator registration and helpful lookup errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        existing = self._items.get(name)
        if existing is not None and existing is not item and not replace:
            raise DuplicatePluginError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def decorator(self, name: str | None = None, *, replace: bool = False) -> Callable[[T], T]:
        def wrap(item: T) -> T:
            key = name or getattr(item, "__name__", None)
            if not key:
                raise ValueError(f"{self.kind} needs a name")
            return self.register(key, item, replace=replace)

        return wrap

    def __getitem__(self, name: str) -> T:
        _ensure_loaded()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownPluginError(self.kind, name, suggest(name, list(self._items))) from None

    def __iter__(self) -> Iterator[str]:
        _ensure_loaded()
        return iter(sorted(self._items))

    def __len__(self) -> int:
        _ensure_loaded()
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        _ensure_loaded()
        return name in self._items


BENCHMARKS: Registry[BenchmarkFactory] = Registry("benchmark")
METRICS: Registry[MetricFn] = Registry("metric")
SCORERS: Registry[ScorerFn] = Registry("scorer")
BACKENDS: Registry[BackendFactory] = Registry("backend")


def benchmark(
    name: str | None = None, *, replace: bool = False
) -> Callable[[BenchmarkFactory], BenchmarkFactory]:
    """Register a benchmark factory (a class with a no-argument constructor, or a function)."""
    return BENCHMARKS.decorator(name, replace=replace)


def metric(name: str | None = None, *, replace: bool = False) -> Callable[[MetricFn], MetricFn]:
    """Register a sample-level text metric ``(prediction, references) -> float``."""
    return METRICS.decorator(name, replace=replace)


def scorer(name: str | None = None, *, replace: bool = False) -> Callable[[ScorerFn], ScorerFn]:
    """Register a document scorer ``(prepared, responses) -> {metric: value}``."""
    return SCORERS.decorator(name, replace=replace)


def backend(name: str | None = None, *, replace: bool = False) -> Callable[[BackendFactory], BackendFactory]:
    """Register an evaluation backend factory (``native``, ``lm-evaluation-harness``, ...)."""
    return BACKENDS.decorator(name, replace=replace)


def create_benchmark(name: str, **options: Any) -> Benchmark:
    """A fresh benchmark instance for `name` (raises UnknownPluginError with suggestions).

    `options` go to the factory, e.g. ``method="generative_letter"`` or ``execute=sandbox_fn``; a
    benchmark that cannot honour one raises ``BenchmarkError`` (e.g. truthfulqa_mc2 has no letter form).
    """
    return BENCHMARKS[name](**options)


# Built-in modules are imported lazily on first lookup (not at import time of this module) so that
# importing the registry stays cheap and free of import cycles: the built-ins import the registry.
_BUILTIN_MODULES = ("llm_research_lab.engine.metrics", "llm_research_lab.engine.benchmarks")
_loaded = False
_loading = False
_lock = threading.RLock()


def _ensure_loaded() -> None:
    global _loaded, _loading
    if _loaded or _loading:
        return
    with _lock:
        if _loaded or _loading:
            return
        _loading = True
        try:
            for module in _BUILTIN_MODULES:
                importlib.import_module(module)
            load_plugins()
            _loaded = True
        finally:
            _loading = False


def load_plugins(group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Import every entry point of `group`; returns the names loaded.

    A plugin that fails to import is logged and skipped rather than breaking every lookup: one broken
    third-party package must not take down the built-in benchmarks.
    """
    loaded: list[str] = []
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception:
            logger.exception("failed to load plugin %s (%s)", ep.name, ep.value)
            continue
        if callable(obj) and not isinstance(obj, type):
            obj()
        loaded.append(ep.name)
    return loaded
