"""The shipped catalog loads, is complete, and rejects malformed YAML."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from llm_research_lab.catalog import (
    CATEGORIES,
    CatalogValidationError,
    UnknownBenchmarkError,
    UnknownCollectionError,
    UnknownProviderError,
    UnknownRiskCategoryError,
    build_catalog,
    load_catalog,
)
from llm_research_lab.catalog.loader import SPECS_DIR

LM = "lm_evaluation_harness"


def test_loads_and_is_cached() -> None:
    assert load_catalog() is load_catalog()


def test_providers_as_the_notebook_reads_them() -> None:
    catalog = load_catalog()
    provider = catalog.provider(LM)
    data = provider.model_dump()
    assert {"provider_id", "provider_name", "description", "provider_type", "base_url", "benchmarks"} <= set(
        data
    )
    assert data["provider_type"] == "builtin" and data["base_url"] is None
    assert data["benchmark_count"] == len(provider.benchmarks) >= 100
    assert catalog.provider("nemo_evaluator").provider_type == "nemo-evaluator"


def test_at_least_100_lm_eval_benchmarks_covering_every_category() -> None:
    catalog = load_catalog()
    benches = catalog.benchmarks(provider_id=LM)
    assert len(benches) >= 100
    assert {b.category for b in benches} == set(CATEGORIES)
    required = {
        "arc_easy", "arc_challenge", "hellaswag", "winogrande", "piqa", "mmlu", "gsm8k", "truthfulqa_mc1",
        "truthfulqa_mc2", "truthfulqa_gen", "boolq", "openbookqa", "sciq", "lambada_openai", "wikitext",
        "humaneval", "mbpp", "bbh", "drop", "triviaqa", "nq_open", "race", "logiqa", "mathqa", "minerva_math",
        "hendrycks_math", "toxigen", "crows_pairs_english", "bbq",
    }  # fmt: skip
    assert required <= {b.benchmark_id for b in benches}
    assert (
        len([b for b in benches if b.benchmark_id.startswith("mmlu_") and b.benchmark_id != "mmlu_pro"]) == 57
    )


def test_metadata_of_shipped_benchmarks() -> None:
    catalog = load_catalog()
    arc = catalog.benchmark(LM, "arc_easy")
    assert (arc.dataset_size, arc.request_type, arc.metrics) == (2376, "loglikelihood", ["acc", "acc_norm"])
    assert arc.backends == ["native", "lm-evaluation-harness"]
    assert arc.data_available is True
    gsm = catalog.benchmark(LM, "gsm8k")
    assert (gsm.num_few_shot, gsm.request_type, gsm.category) == (5, "generate_until", "math")
    assert catalog.benchmark(LM, "wikitext").request_type == "loglikelihood_rolling"
    assert catalog.benchmark(LM, "boolq").data_available is False
    mmlu_sizes = [b.dataset_size or 0 for b in catalog.benchmarks(provider_id=LM, tags=["mmlu"])]
    assert sum(mmlu_sizes) == catalog.benchmark(LM, "mmlu").dataset_size == 14042


def test_filters() -> None:
    catalog = load_catalog()
    math = catalog.benchmarks(category="math")
    assert math and all(b.category == "math" for b in math)
    tagged = catalog.benchmarks(tags=["multiple_choice", "science"], provider_id=LM)
    assert {"arc_easy", "sciq"} <= {b.benchmark_id for b in tagged}
    assert catalog.benchmarks(category="no-such-category") == []


def test_risk_categories_exactly() -> None:
    catalog = load_catalog()
    expected = {
        "low": (["hellaswag", "arc_easy"], 100),
        "medium": (["hellaswag", "arc_easy", "arc_challenge", "winogrande"], 500),
        "high": (["hellaswag", "arc_easy", "arc_challenge", "winogrande", "mmlu"], 1000),
        "critical": (["hellaswag", "arc_easy", "arc_challenge", "winogrande", "mmlu", "gsm8k"], None),
    }
    assert [r.name for r in catalog.risk_categories] == list(expected)
    for name, (ids, limit) in expected.items():
        risk = catalog.risk_category(name)
        assert [b.benchmark_id for b in risk.benchmarks] == ids
        assert all(b.provider_id == LM for b in risk.benchmarks)
        assert (risk.limit, risk.num_fewshot) == (limit, 5)
        collection = catalog.collection(f"risk_{name}")
        assert [b.benchmark_id for b in collection.benchmarks] == ids
        assert all(b.config == {"num_fewshot": 5, "limit": limit} for b in collection.benchmarks)


def test_collections_shape() -> None:
    catalog = load_catalog()
    data = catalog.collection("open_llm_leaderboard_v1").model_dump()
    assert set(data) == {"collection_id", "name", "description", "benchmarks"}
    assert data["benchmarks"][0] == {
        "provider_id": LM,
        "benchmark_id": "arc_challenge",
        "config": {"num_fewshot": 25},
    }


@pytest.mark.parametrize(
    ("lookup", "error", "suggestion"),
    [
        (lambda c: c.provider("lm_evaluation_harnes"), UnknownProviderError, "lm_evaluation_harness"),
        (lambda c: c.benchmark(LM, "arc_eazy"), UnknownBenchmarkError, "arc_easy"),
        (lambda c: c.find_benchmark("gsm8kk"), UnknownBenchmarkError, "gsm8k"),
        (lambda c: c.collection("risk_lo"), UnknownCollectionError, "risk_low"),
        (lambda c: c.risk_category("medum"), UnknownRiskCategoryError, "medium"),
    ],
)
def test_unknown_ids_suggest(lookup, error, suggestion) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        lookup(load_catalog())
    assert suggestion in info.value.suggestions
    assert f"did you mean {suggestion!r}" in str(info.value)
    assert isinstance(info.value, KeyError)


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    target = tmp_path / "specs"
    shutil.copytree(SPECS_DIR, target)
    return target


def _edit(path: Path, fn) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data))


def test_copy_of_specs_builds(specs: Path) -> None:
    assert len(build_catalog(specs).benchmarks()) == len(load_catalog().benchmarks())


def test_extra_key_is_rejected(specs: Path) -> None:
    _edit(specs / "benchmarks_lm_evaluation_harness.yaml", lambda d: d["benchmarks"][0].update(num_shots=3))
    with pytest.raises(CatalogValidationError, match="num_shots"):
        build_catalog(specs)


def test_computed_fields_cannot_be_written_in_yaml(specs: Path) -> None:
    _edit(
        specs / "benchmarks_lm_evaluation_harness.yaml",
        lambda d: d["benchmarks"][0].update(data_available=True),
    )
    with pytest.raises(CatalogValidationError, match="data_available"):
        build_catalog(specs)


def test_duplicate_benchmark_id_is_rejected(specs: Path) -> None:
    _edit(
        specs / "benchmarks_lm_evaluation_harness.yaml", lambda d: d["benchmarks"].append(d["benchmarks"][0])
    )
    with pytest.raises(CatalogValidationError, match="duplicate benchmark 'arc_easy'"):
        build_catalog(specs)


def test_unknown_provider_in_collection_is_rejected(specs: Path) -> None:
    _edit(
        specs / "collections.yaml", lambda d: d["collections"][0]["benchmarks"][0].update(provider_id="nope")
    )
    with pytest.raises(CatalogValidationError, match="unknown provider 'nope'"):
        build_catalog(specs)


def test_unknown_benchmark_in_risk_category_is_rejected(specs: Path) -> None:
    _edit(
        specs / "risk_categories.yaml",
        lambda d: d["risk_categories"][0]["benchmarks"][0].update(benchmark_id="x"),
    )
    with pytest.raises(CatalogValidationError, match="lm_evaluation_harness::x"):
        build_catalog(specs)


def test_bad_category_is_rejected(specs: Path) -> None:
    _edit(
        specs / "benchmarks_lm_evaluation_harness.yaml", lambda d: d["benchmarks"][0].update(category="vibes")
    )
    with pytest.raises(CatalogValidationError, match="category"):
        build_catalog(specs)
