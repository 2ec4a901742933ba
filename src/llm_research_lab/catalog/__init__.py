"""The benchmark catalog as data: providers, benchmarks, collections and risk categories (YAML in
``specs/``), shipped benchmark data (``data/``) and the resolver that finds benchmark data.

    from llm_research_lab.catalog import load_catalog
    catalog = load_catalog()
    catalog.benchmark("lm_evaluation_harness", "arc_easy").dataset_size   # 2376
    source = catalog.resolver(data_dir=settings_dir).source("arc_easy")    # engine DataSource
"""

from llm_research_lab.catalog.errors import (
    BenchmarkDataNotFoundError,
    CatalogError,
    CatalogValidationError,
    UnknownBenchmarkError,
    UnknownCatalogIdError,
    UnknownCollectionError,
    UnknownProviderError,
    UnknownRiskCategoryError,
)
from llm_research_lab.catalog.loader import Catalog, build_catalog, load_catalog
from llm_research_lab.catalog.models import (
    CATEGORIES,
    Benchmark,
    BenchmarkRef,
    Collection,
    DatasetSpec,
    Provider,
    RiskCategory,
)
from llm_research_lab.catalog.resolver import (
    DataResolver,
    RegisteredResolver,
    ResolvedSource,
    iter_rows,
    load_rows,
)

__all__ = [
    "CATEGORIES",
    "Benchmark",
    "BenchmarkDataNotFoundError",
    "BenchmarkRef",
    "Catalog",
    "CatalogError",
    "CatalogValidationError",
    "Collection",
    "DataResolver",
    "DatasetSpec",
    "Provider",
    "RegisteredResolver",
    "ResolvedSource",
    "RiskCategory",
    "UnknownBenchmarkError",
    "UnknownCatalogIdError",
    "UnknownCollectionError",
    "UnknownProviderError",
    "UnknownRiskCategoryError",
    "build_catalog",
    "iter_rows",
    "load_catalog",
    "load_rows",
]
