"""Find the data of a benchmark split, in a fixed order of precedence.

1. `registered(benchmark_id, split)`: a dataset version registered on the server (the server injects
   this callable; it returns a local JSONL path or None).
2. `data_dir` (the ``LAB_BENCHMARK_DATA_DIR`` setting, passed in by the caller): either
   ``<data_dir>/<benchmark_id>/<split>.jsonl[.gz]``, ``<data_dir>/<dataset_id>/<split>.jsonl[.gz]``,
   or the shipped layout (``<data_dir>/arc/arc-easy_test.jsonl``, with or without ``.gz``).
3. The files shipped in ``catalog/data`` (see the READMEs there for sources and licences).
4. The Hugging Face hub, only if `allow_hub` and the optional ``datasets`` package is importable; the
   split is downloaded once into `cache_dir` as JSONL.

A miss raises :class:`BenchmarkDataNotFoundError` naming the benchmark and every place looked.
Paths point at JSONL files, optionally gzip-compressed (``.jsonl.gz``, which both ``iter_rows`` and
the ``datasets`` json loader read directly).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from llm_research_lab.catalog.errors import BenchmarkDataNotFoundError
from llm_research_lab.catalog.models import DatasetSpec

RegisteredResolver = Callable[[str, str], Path | None]

SHIPPED_DATA_DIR = Path(str(resources.files("llm_research_lab.catalog") / "data"))
_SUFFIXES = (".jsonl", ".jsonl.gz")


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file (gzip-compressed when the name ends in .gz); blank lines are skipped."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{line_no}: a row must be a JSON object")
            yield row


def load_rows(path: Path) -> list[dict[str, Any]]:
    return list(iter_rows(path))


def shipped_path(dataset: DatasetSpec, split: str) -> Path | None:
    rel = dataset.files.get(split)
    if rel is None:
        return None
    path = SHIPPED_DATA_DIR / rel
    return path if path.is_file() else None


class DataResolver:
    """Resolves (benchmark_id, split) to a JSONL path; see the module docstring for the order."""

    def __init__(
        self,
        datasets_by_benchmark: Mapping[str, DatasetSpec],
        *,
        registered: RegisteredResolver | None = None,
        data_dir: Path | None = None,
        allow_hub: bool = False,
        cache_dir: Path | None = None,
        use_shipped: bool = True,
    ) -> None:
        self.datasets_by_benchmark = dict(datasets_by_benchmark)
        self.registered = registered
        self.data_dir = data_dir
        self.allow_hub = allow_hub
        self.cache_dir = cache_dir
        self.use_shipped = use_shipped

    def _local_candidates(self, benchmark_id: str, split: str) -> list[Path]:
        if self.data_dir is None:
            return []
        dataset = self.datasets_by_benchmark.get(benchmark_id)
        folders = [benchmark_id] + (
            [dataset.dataset_id] if dataset and dataset.dataset_id != benchmark_id else []
        )
        out = [self.data_dir / folder / f"{split}{suffix}" for folder in folders for suffix in _SUFFIXES]
        if dataset and split in dataset.files:
            shipped_rel = dataset.files[split]
            out.append(self.data_dir / shipped_rel)
            if shipped_rel.endswith(".gz"):
                out.append(self.data_dir / shipped_rel[: -len(".gz")])
        return out

    def resolve(self, benchmark_id: str, split: str) -> Path:
        """The path of `split` of `benchmark_id`, or BenchmarkDataNotFoundError."""
        return self._resolve(benchmark_id, split, allow_hub=self.allow_hub)

    def _resolve(self, benchmark_id: str, split: str, *, allow_hub: bool) -> Path:
        searched: list[str] = []
        if self.registered is not None:
            found = self.registered(benchmark_id, split)
            if found is not None:
                return Path(found)
            searched.append("registered dataset versions")
        for candidate in self._local_candidates(benchmark_id, split):
            if candidate.is_file():
                return candidate
        if self.data_dir is not None:
            searched.append(f"data dir {self.data_dir}")
        dataset = self.datasets_by_benchmark.get(benchmark_id)
        if self.use_shipped:
            if dataset is not None:
                path = shipped_path(dataset, split)
                if path is not None:
                    return path
            searched.append(f"shipped data {SHIPPED_DATA_DIR}")
        hub_path = self._from_hub(dataset, split, searched, allow_hub=allow_hub)
        if hub_path is not None:
            return hub_path
        raise BenchmarkDataNotFoundError(benchmark_id, split, searched)

    def available(self, benchmark_id: str, split: str) -> bool:
        """Whether `split` resolves without downloading anything."""
        try:
            self._resolve(benchmark_id, split, allow_hub=False)
        except BenchmarkDataNotFoundError:
            return False
        return True

    def _from_hub(
        self, dataset: DatasetSpec | None, split: str, searched: list[str], *, allow_hub: bool
    ) -> Path | None:
        if dataset is None or dataset.hub is None:
            return None
        hub = dataset.hub
        label = f"Hugging Face hub {hub.path}" + (f" ({hub.name})" if hub.name else "")
        if not allow_hub:
            searched.append(f"{label} (not allowed)")
            return None
        try:
            import datasets  # optional extra: llm-research-lab[datasets]
        except ImportError:
            searched.append(f"{label} (install llm-research-lab[datasets])")
            return None
        cache = self.cache_dir or Path.home() / ".cache" / "llm-research-lab" / "benchmarks"
        target = cache / dataset.dataset_id / f"{split}.jsonl"
        if target.is_file():
            return target
        hub_split = hub.splits.get(split, split)
        try:
            ds = datasets.load_dataset(hub.path, hub.name, split=hub_split)
        except (ValueError, FileNotFoundError, ConnectionError) as exc:
            searched.append(f"{label} split {hub_split!r} ({exc.__class__.__name__}: {exc})")
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for row in ds:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        tmp.replace(target)  # atomic: a crash mid-download never leaves a truncated cache file
        return target

    def source(self, benchmark_id: str) -> ResolvedSource:
        """A DataSource (``rows(split)``, ``has_split(split)``) over this benchmark's data."""
        return ResolvedSource(self, benchmark_id)


class ResolvedSource:
    """Rows of one benchmark by split, loaded on first use and kept in memory."""

    def __init__(self, resolver: DataResolver, benchmark_id: str) -> None:
        self.resolver = resolver
        self.benchmark_id = benchmark_id
        self._rows: dict[str, list[dict[str, Any]]] = {}

    def path(self, split: str) -> Path:
        return self.resolver.resolve(self.benchmark_id, split)

    def rows(self, split: str) -> Sequence[Mapping[str, Any]]:
        if split not in self._rows:
            self._rows[split] = load_rows(self.path(split))
        return self._rows[split]

    def has_split(self, split: str) -> bool:
        if split in self._rows:
            return True
        try:
            self.path(split)
        except BenchmarkDataNotFoundError:
            return False
        return True
