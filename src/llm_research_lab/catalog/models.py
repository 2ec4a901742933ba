"""Catalog records, validated with ``extra="forbid"`` so a misspelt YAML key is an error, not a no-op."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, computed_field

ProviderType = Literal["builtin", "nemo-evaluator", "native"]
BackendType = Literal["native", "lm-evaluation-harness", "nemo-evaluator"]
RequestTypeName = Literal["loglikelihood", "generate_until", "loglikelihood_rolling"]
Category = Literal[
    "reasoning",
    "math",
    "knowledge",
    "science",
    "code",
    "safety",
    "language_modeling",
    "reading_comprehension",
    "commonsense",
    "multilingual",
    "language_understanding",
    "instruction_following",
]
RiskLevel = Literal["low", "medium", "high", "critical"]

CATEGORIES: tuple[str, ...] = get_args(Category)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSource(_Strict):
    path: str
    name: str | None = None
    splits: dict[str, str] = Field(default_factory=dict)  # our split name -> hub split name


class DatasetSpec(_Strict):
    dataset_id: str
    files: dict[str, str]  # split -> path relative to catalog/data
    hub: HubSource | None = None


class BenchmarkEntry(_Strict):
    """A benchmark as written in a benchmarks_<provider>.yaml file."""

    benchmark_id: str = Field(min_length=1)
    name: str
    description: str
    category: Category
    metrics: list[str] = Field(min_length=1)
    num_few_shot: int = Field(default=0, ge=0)
    dataset_size: int | None = Field(default=None, ge=0)
    tags: list[str] = Field(default_factory=list)
    backends: list[BackendType] = Field(min_length=1)
    request_type: RequestTypeName
    dataset: str | None = None  # a datasets.yaml id when the data resolves locally
    eval_split: str | None = None  # default: the dataset's test split, else validation


class Benchmark(BenchmarkEntry):
    """A benchmark as the API shows it: the entry plus its provider and whether its data is at hand."""

    provider_id: str
    data_available: bool = False


class BenchmarkFile(_Strict):
    provider_id: str
    benchmarks: list[BenchmarkEntry]


class ProviderEntry(_Strict):
    provider_id: str = Field(min_length=1)
    provider_name: str
    description: str
    provider_type: ProviderType
    base_url: str | None = None


class Provider(ProviderEntry):
    benchmarks: list[Benchmark] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def benchmark_count(self) -> int:
        return len(self.benchmarks)


class BenchmarkRef(_Strict):
    provider_id: str
    benchmark_id: str
    config: dict[str, Any] | None = None  # e.g. {num_fewshot: 5, limit: 100}


class Collection(_Strict):
    collection_id: str = Field(min_length=1)
    name: str
    description: str
    benchmarks: list[BenchmarkRef] = Field(min_length=1)


class RiskCategory(_Strict):
    name: RiskLevel
    description: str
    num_fewshot: int = Field(ge=0)
    limit: int | None = Field(ge=1)
    benchmarks: list[BenchmarkRef] = Field(min_length=1)

    @property
    def collection_id(self) -> str:
        return f"risk_{self.name}"

    def benchmark_config(self) -> dict[str, Any]:
        """The per-benchmark evaluation settings this category implies."""
        return {"num_fewshot": self.num_fewshot, "limit": self.limit}


class ProvidersFile(_Strict):
    providers: list[ProviderEntry]


class DatasetsFile(_Strict):
    datasets: list[DatasetSpec]


class CollectionsFile(_Strict):
    collections: list[Collection]


class RiskCategoriesFile(_Strict):
    risk_categories: list[RiskCategory]
