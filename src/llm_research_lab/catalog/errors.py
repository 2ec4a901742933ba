"""Catalog errors: plain exceptions, mapped to HTTP responses by the server (404 for unknown ids).

Unknown-id errors subclass ``KeyError`` so ``except KeyError`` works, carry close matches in
`suggestions`, and print a readable message (KeyError's own str() would repr-quote it).
"""

from __future__ import annotations

from collections.abc import Sequence


class CatalogError(Exception):
    """Base class of catalog errors."""


class CatalogValidationError(CatalogError, ValueError):
    """A catalog YAML file is malformed or inconsistent (unknown reference, duplicate id, extra key)."""


class UnknownCatalogIdError(CatalogError, KeyError):
    kind = "id"

    def __init__(self, value: str, suggestions: Sequence[str] = ()) -> None:
        self.value = value
        self.suggestions = list(suggestions)
        hint = f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?" if self.suggestions else ""
        self.message = f"unknown {self.kind} {value!r}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class UnknownProviderError(UnknownCatalogIdError):
    kind = "provider"


class UnknownBenchmarkError(UnknownCatalogIdError):
    kind = "benchmark"


class UnknownCollectionError(UnknownCatalogIdError):
    kind = "collection"


class UnknownRiskCategoryError(UnknownCatalogIdError):
    kind = "risk category"


class BenchmarkDataNotFoundError(CatalogError, FileNotFoundError):
    """No data for a benchmark split in any of the places the resolver looked."""

    def __init__(self, benchmark_id: str, split: str, searched: Sequence[str]) -> None:
        self.benchmark_id = benchmark_id
        self.split = split
        self.searched = list(searched)
        places = "; ".join(self.searched) if self.searched else "nowhere (no data source is configured)"
        self.message = f"no data for benchmark {benchmark_id!r} split {split!r}; looked in: {places}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
