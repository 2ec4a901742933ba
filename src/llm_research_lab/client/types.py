"""Typed response objects shared by both clients (those without bound methods)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from llm_research_lab.schemas import experiments as s


class ExperimentMetrics(s.ExperimentMetrics):
    """``GET /experiments/{id}/metrics``.

    ``metrics.accuracy`` is the mean of ``aggregated_metrics["accuracy"]``;
    ``metrics["accuracy"]`` is the whole aggregate (``.mean``, ``.std``, ``.min``, ``.max``, ``.count``).
    """

    def __getitem__(self, name: str) -> s.MetricAggregate:
        try:
            return self.aggregated_metrics[name]
        except KeyError:
            raise KeyError(
                f"no metric {name!r}; have: {', '.join(sorted(self.aggregated_metrics))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.aggregated_metrics

    def __getattr__(self, name: str) -> float:
        if name.startswith("_"):
            return super().__getattr__(name)  # type: ignore[misc,no-any-return]
        aggregates = self.__dict__.get("aggregated_metrics", {})
        if name in aggregates:
            return float(aggregates[name].mean)
        raise AttributeError(
            f"experiment has no metric {name!r}; have: {', '.join(sorted(aggregates)) or 'none'}"
        )

    def means(self) -> dict[str, float]:
        return {name: agg.mean for name, agg in self.aggregated_metrics.items()}


class Record(BaseModel):
    """A response whose shared schema is not in :mod:`llm_research_lab.schemas` (yet).

    Fields are reachable as attributes and items: ``job.status`` or ``job["status"]``.
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __iter__(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        return iter(self.to_dict().items())

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            return super().__getattr__(name)  # type: ignore[misc]
        extra = self.__pydantic_extra__ or {}
        if name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str = "Bearer"
    expires_in: int | None = None


class SignedUrl(BaseModel):
    """An upload or download URL the server signed, valid until ``expires_at``."""

    model_config = ConfigDict(extra="allow")

    url: str
    expires_at: str | None = None
