"""Load and validate the catalog YAML (specs/) into an immutable, queryable :class:`Catalog`.

Validation happens once at load, so a broken catalog fails at start-up rather than on the first
request that touches the bad entry: extra keys (pydantic ``extra="forbid"``), duplicate ids,
collections or risk categories that reference unknown providers or benchmarks, benchmarks that name
an unknown dataset, and a provider file for an unknown provider are all errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llm_research_lab.catalog.errors import (
    CatalogValidationError,
    UnknownBenchmarkError,
    UnknownCollectionError,
    UnknownProviderError,
    UnknownRiskCategoryError,
)
from llm_research_lab.catalog.models import (
    Benchmark,
    BenchmarkFile,
    BenchmarkRef,
    Collection,
    CollectionsFile,
    DatasetsFile,
    DatasetSpec,
    Provider,
    ProvidersFile,
    RiskCategoriesFile,
    RiskCategory,
)
from llm_research_lab.catalog.resolver import DataResolver, RegisteredResolver

SPECS_DIR = Path(str(resources.files("llm_research_lab.catalog") / "specs"))

M = TypeVar("M", bound=BaseModel)


def _suggest(value: str, candidates: Iterable[str]) -> list[str]:
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    return [lowered[m] for m in difflib.get_close_matches(value.lower(), list(lowered), n=3, cutoff=0.6)]


def _read(path: Path, model: type[M]) -> M:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogValidationError(f"{path.name}: invalid YAML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise CatalogValidationError(f"{path.name}: {exc}") from exc


def _unique(kind: str, ids: Sequence[str], source: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            raise CatalogValidationError(f"{source}: duplicate {kind} {value!r}")
        seen.add(value)


class Catalog:
    """Providers, benchmarks, collections and risk categories, with lookups by id."""

    def __init__(
        self,
        providers: Sequence[Provider],
        collections: Sequence[Collection],
        risk_categories: Sequence[RiskCategory],
        datasets: Mapping[str, DatasetSpec],
    ) -> None:
        self._providers = {p.provider_id: p for p in providers}
        self._benchmarks = {(b.provider_id, b.benchmark_id): b for p in providers for b in p.benchmarks}
        self._collections = {c.collection_id: c for c in collections}
        self._risk: dict[str, RiskCategory] = {r.name: r for r in risk_categories}
        self._datasets = dict(datasets)

    # -- providers -------------------------------------------------------------------------------

    @property
    def providers(self) -> list[Provider]:
        return list(self._providers.values())

    def provider(self, provider_id: str) -> Provider:
        try:
            return self._providers[provider_id]
        except KeyError:
            raise UnknownProviderError(provider_id, _suggest(provider_id, self._providers)) from None

    # -- benchmarks ------------------------------------------------------------------------------

    def benchmarks(
        self,
        category: str | None = None,
        provider_id: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> list[Benchmark]:
        """Benchmarks matching every given filter (`tags`: the benchmark has all of them)."""
        if provider_id is not None:
            self.provider(provider_id)  # unknown provider is an error, not an empty list
        wanted = set(tags or ())
        return [
            b
            for b in self._benchmarks.values()
            if (category is None or b.category == category)
            and (provider_id is None or b.provider_id == provider_id)
            and wanted.issubset(b.tags)
        ]

    def benchmark(self, provider_id: str, benchmark_id: str) -> Benchmark:
        provider = self.provider(provider_id)
        found = self._benchmarks.get((provider_id, benchmark_id))
        if found is None:
            names = [b.benchmark_id for b in provider.benchmarks]
            raise UnknownBenchmarkError(benchmark_id, _suggest(benchmark_id, names))
        return found

    def find_benchmark(self, benchmark_id: str) -> list[Benchmark]:
        """Every provider's benchmark with this id (Eval Hub requests may omit the provider)."""
        found = [b for (_, bid), b in self._benchmarks.items() if bid == benchmark_id]
        if not found:
            names = {bid for _, bid in self._benchmarks}
            raise UnknownBenchmarkError(benchmark_id, _suggest(benchmark_id, names))
        return found

    @property
    def categories(self) -> list[str]:
        return sorted({b.category for b in self._benchmarks.values()})

    # -- collections and risk categories ---------------------------------------------------------

    @property
    def collections(self) -> list[Collection]:
        return list(self._collections.values())

    def collection(self, collection_id: str) -> Collection:
        try:
            return self._collections[collection_id]
        except KeyError:
            raise UnknownCollectionError(collection_id, _suggest(collection_id, self._collections)) from None

    @property
    def risk_categories(self) -> list[RiskCategory]:
        return list(self._risk.values())

    def risk_category(self, name: str) -> RiskCategory:
        try:
            return self._risk[name]
        except KeyError:
            raise UnknownRiskCategoryError(name, _suggest(name, self._risk)) from None

    # -- data ------------------------------------------------------------------------------------

    @property
    def datasets(self) -> dict[str, DatasetSpec]:
        return dict(self._datasets)

    def datasets_by_benchmark(self) -> dict[str, DatasetSpec]:
        """benchmark_id -> dataset, for benchmarks whose data can be resolved locally."""
        return {
            b.benchmark_id: self._datasets[b.dataset]
            for b in self._benchmarks.values()
            if b.dataset is not None
        }

    def resolver(
        self,
        *,
        registered: RegisteredResolver | None = None,
        data_dir: Path | None = None,
        allow_hub: bool = False,
        cache_dir: Path | None = None,
    ) -> DataResolver:
        """A data resolver for this catalog's benchmarks (see ``catalog.resolver``)."""
        return DataResolver(
            self.datasets_by_benchmark(),
            registered=registered,
            data_dir=data_dir,
            allow_hub=allow_hub,
            cache_dir=cache_dir,
        )


def eval_split(benchmark: Benchmark, dataset: DatasetSpec | None) -> str:
    """The split a benchmark is scored on: explicit, else test when the dataset has it, else validation."""
    if benchmark.eval_split:
        return benchmark.eval_split
    if dataset is None or "test" in dataset.files:
        return "test"
    return "validation"


def build_catalog(specs_dir: Path = SPECS_DIR, *, data_dir: Path | None = None) -> Catalog:
    """Read and cross-validate every YAML file in `specs_dir` (uncached; see ``load_catalog``)."""
    providers_file = _read(specs_dir / "providers.yaml", ProvidersFile)
    _unique("provider", [p.provider_id for p in providers_file.providers], "providers.yaml")
    datasets_file = _read(specs_dir / "datasets.yaml", DatasetsFile)
    _unique("dataset", [d.dataset_id for d in datasets_file.datasets], "datasets.yaml")
    datasets = {d.dataset_id: d for d in datasets_file.datasets}

    entries: dict[str, list[Benchmark]] = {p.provider_id: [] for p in providers_file.providers}
    for path in sorted(specs_dir.glob("benchmarks_*.yaml")):
        bfile = _read(path, BenchmarkFile)
        if bfile.provider_id not in entries:
            raise CatalogValidationError(
                f"{path.name}: unknown provider {bfile.provider_id!r} (known: {', '.join(sorted(entries))})"
            )
        _unique("benchmark", [b.benchmark_id for b in bfile.benchmarks], path.name)
        for entry in bfile.benchmarks:
            if entry.dataset is not None and entry.dataset not in datasets:
                raise CatalogValidationError(
                    f"{path.name}: benchmark {entry.benchmark_id!r} names unknown dataset {entry.dataset!r}"
                )
            bench = Benchmark(provider_id=bfile.provider_id, **entry.model_dump())
            entries[bfile.provider_id].append(bench)
        if len(entries[bfile.provider_id]) != len({b.benchmark_id for b in entries[bfile.provider_id]}):
            raise CatalogValidationError(f"{path.name}: benchmarks of {bfile.provider_id!r} defined twice")

    # data_available needs the resolver, which needs the benchmark -> dataset map built above.
    by_benchmark = {
        b.benchmark_id: datasets[b.dataset] for bs in entries.values() for b in bs if b.dataset is not None
    }
    resolver = DataResolver(by_benchmark, data_dir=data_dir)
    providers: list[Provider] = []
    for p in providers_file.providers:
        benches = []
        for b in entries[p.provider_id]:
            split = eval_split(b, datasets.get(b.dataset) if b.dataset else None)
            available = b.dataset is not None and resolver.available(b.benchmark_id, split)
            if b.dataset is None and data_dir is not None:
                available = resolver.available(b.benchmark_id, split)
            benches.append(b.model_copy(update={"data_available": available, "eval_split": split}))
        providers.append(Provider(**p.model_dump(), benchmarks=benches))

    known = {(b.provider_id, b.benchmark_id) for p in providers for b in p.benchmarks}
    provider_ids = {p.provider_id for p in providers}

    def check_refs(refs: Sequence[BenchmarkRef], where: str) -> None:
        for ref in refs:
            if ref.provider_id not in provider_ids:
                raise CatalogValidationError(f"{where}: unknown provider {ref.provider_id!r}")
            if (ref.provider_id, ref.benchmark_id) not in known:
                raise CatalogValidationError(
                    f"{where}: unknown benchmark {ref.provider_id}::{ref.benchmark_id}"
                )

    risk_file = _read(specs_dir / "risk_categories.yaml", RiskCategoriesFile)
    _unique("risk category", [r.name for r in risk_file.risk_categories], "risk_categories.yaml")
    for risk in risk_file.risk_categories:
        check_refs(risk.benchmarks, f"risk_categories.yaml ({risk.name})")

    collections_file = _read(specs_dir / "collections.yaml", CollectionsFile)
    collections = list(collections_file.collections)
    for risk in risk_file.risk_categories:
        collections.append(_risk_collection(risk))
    _unique("collection", [c.collection_id for c in collections], "collections.yaml")
    for c in collections:
        check_refs(c.benchmarks, f"collections.yaml ({c.collection_id})")

    return Catalog(providers, collections, risk_file.risk_categories, datasets)


def _risk_collection(risk: RiskCategory) -> Collection:
    config: dict[str, Any] = risk.benchmark_config()
    return Collection(
        collection_id=risk.collection_id,
        name=f"{risk.name.capitalize()} risk",
        description=risk.description,
        benchmarks=[
            BenchmarkRef(
                provider_id=r.provider_id, benchmark_id=r.benchmark_id, config={**config, **(r.config or {})}
            )
            for r in risk.benchmarks
        ],
    )


@lru_cache(maxsize=8)
def load_catalog(data_dir: Path | None = None) -> Catalog:
    """The shipped catalog, validated and cached (`data_dir` only affects ``data_available``)."""
    return build_catalog(SPECS_DIR, data_dir=data_dir)
