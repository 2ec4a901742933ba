"""Resolver order (registered > data dir > shipped > hub) and the row counts of the shipped data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_research_lab.catalog import BenchmarkDataNotFoundError, iter_rows, load_catalog
from llm_research_lab.engine.registry import create_benchmark


@pytest.mark.parametrize(
    ("benchmark_id", "split", "rows"),
    [
        ("arc_easy", "test", 2376),
        ("arc_challenge", "test", 1172),
        ("arc_easy", "train", 2251),
        ("arc_challenge", "train", 1119),
        ("hellaswag", "validation", 10042),
        ("winogrande", "validation", 1267),
        ("piqa", "validation", 1838),
        ("mmlu", "test", 14042),
        ("mmlu", "dev", 285),
        ("gsm8k", "test", 1319),
        ("gsm8k", "train", 7473),
        ("truthfulqa_mc1", "validation", 817),
        ("humaneval", "test", 164),
    ],
)
def test_shipped_row_counts(benchmark_id: str, split: str, rows: int) -> None:
    path = load_catalog().resolver().resolve(benchmark_id, split)
    assert sum(1 for _ in iter_rows(path)) == rows


def test_native_docs_match_catalog_dataset_size() -> None:
    catalog = load_catalog()
    resolver = catalog.resolver()
    for bid in [
        "arc_easy",
        "hellaswag",
        "winogrande",
        "piqa",
        "mmlu",
        "mmlu_anatomy",
        "gsm8k",
        "truthfulqa_mc2",
    ]:
        docs = create_benchmark(bid).docs(resolver.source(bid))
        assert len(docs) == catalog.benchmark("lm_evaluation_harness", bid).dataset_size, bid


def test_piqa_rows_carry_labels() -> None:
    rows = load_catalog().resolver().source("piqa").rows("validation")
    assert {r["label"] for r in rows} == {0, 1}


def test_registered_resolver_wins(tmp_path: Path) -> None:
    custom = tmp_path / "v3.jsonl"
    custom.write_text(
        json.dumps({"question": "q", "choices": {"text": ["a"], "label": ["A"]}, "answerKey": "A"}) + "\n"
    )
    calls: list[tuple[str, str]] = []

    def registered(benchmark_id: str, split: str) -> Path | None:
        calls.append((benchmark_id, split))
        return custom if split == "test" else None

    resolver = load_catalog().resolver(registered=registered)
    assert resolver.resolve("arc_easy", "test") == custom
    assert resolver.resolve("arc_easy", "train").name == "arc-easy_train.jsonl.gz"  # falls through to shipped
    assert calls == [("arc_easy", "test"), ("arc_easy", "train")]


def test_data_dir_beats_shipped_in_three_layouts(tmp_path: Path) -> None:
    (tmp_path / "arc_easy").mkdir()
    (tmp_path / "arc_easy" / "test.jsonl").write_text("{}\n")
    (tmp_path / "mmlu").mkdir()
    (tmp_path / "mmlu" / "dev.jsonl.gz").write_bytes(b"")
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "train.jsonl").write_text("{}\n")  # shipped layout, uncompressed
    resolver = load_catalog().resolver(data_dir=tmp_path)
    assert resolver.resolve("arc_easy", "test") == tmp_path / "arc_easy" / "test.jsonl"
    assert resolver.resolve("mmlu_anatomy", "dev") == tmp_path / "mmlu" / "dev.jsonl.gz"  # by dataset id
    assert resolver.resolve("gsm8k", "train") == tmp_path / "gsm8k" / "train.jsonl"
    assert resolver.resolve("gsm8k", "test").name == "test.jsonl.gz"  # shipped fallback


def test_miss_names_benchmark_and_places(tmp_path: Path) -> None:
    resolver = load_catalog().resolver(data_dir=tmp_path, allow_hub=False)
    with pytest.raises(BenchmarkDataNotFoundError) as info:
        resolver.resolve("hellaswag", "train")
    message = str(info.value)
    assert "'hellaswag'" in message and "'train'" in message
    assert (
        str(tmp_path) in message and "shipped data" in message and "Rowan/hellaswag (not allowed)" in message
    )
    with pytest.raises(BenchmarkDataNotFoundError, match="boolq"):
        resolver.resolve("boolq", "validation")
    assert resolver.available("hellaswag", "validation") is True
    assert resolver.source("hellaswag").has_split("train") is False


def test_catalog_data_available_honours_data_dir(tmp_path: Path) -> None:
    (tmp_path / "boolq").mkdir()
    (tmp_path / "boolq" / "validation.jsonl").write_text("{}\n")
    catalog = load_catalog(tmp_path)
    assert catalog.benchmark("lm_evaluation_harness", "boolq").data_available is True
    assert load_catalog().benchmark("lm_evaluation_harness", "boolq").data_available is False


def test_iter_rows_reports_bad_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:3"):
        list(iter_rows(bad))


def test_native_benchmarks_agree_with_catalog_entries() -> None:
    catalog = load_catalog()
    for entry in catalog.benchmarks(provider_id="lm_evaluation_harness"):
        if "native" not in entry.backends:
            continue
        bench = create_benchmark(entry.benchmark_id)
        assert bench.request_type.value == entry.request_type, entry.benchmark_id
        assert list(bench.metrics) == entry.metrics, entry.benchmark_id
        assert bench.default_num_fewshot == entry.num_few_shot, entry.benchmark_id
        assert getattr(bench, "eval_split", None) == entry.eval_split, entry.benchmark_id


def test_hub_needs_the_optional_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    resolver = load_catalog().resolver(allow_hub=True, cache_dir=tmp_path)
    with pytest.raises(BenchmarkDataNotFoundError, match=r"install llm-research-lab\[datasets\]"):
        resolver.resolve("hellaswag", "train")


def test_hub_download_is_cached_as_jsonl(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys
    import types

    calls: list[tuple[str, str | None, str]] = []

    def load_dataset(path: str, name: str | None, split: str) -> list[dict[str, object]]:
        calls.append((path, name, split))
        return [
            {"ctx_a": "A man sits.", "ctx_b": "he", "activity_label": "X", "endings": ["a"], "label": "0"}
        ]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    resolver = load_catalog().resolver(allow_hub=True, cache_dir=tmp_path)
    path = resolver.resolve("hellaswag", "train")
    assert path == tmp_path / "hellaswag" / "train.jsonl"
    assert resolver.resolve("hellaswag", "train") == path  # second call hits the cache
    assert calls == [("Rowan/hellaswag", None, "train")]
    assert next(iter_rows(path))["ctx_b"] == "he"
    # With hub data present, hellaswag few-shot comes from train, as in lm-eval.
    bench = create_benchmark("hellaswag")
    src = resolver.source("hellaswag")
    shots = bench.fewshot_docs(src, 1, 0, bench.docs(src)[0])
    assert shots[0]["query"] == "X: A man sits. He"
