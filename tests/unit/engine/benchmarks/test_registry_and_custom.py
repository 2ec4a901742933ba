"""The typed registry (did-you-mean, duplicates, entry-point plugins) and the custom dataset benchmark."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from llm_research_lab.engine import registry
from llm_research_lab.engine.benchmarks import (
    BenchmarkError,
    CustomDatasetBenchmark,
    CustomDatasetSpec,
    InMemorySource,
    prepare_docs,
)
from llm_research_lab.engine.registry import (
    BENCHMARKS,
    METRICS,
    Registry,
    UnknownPluginError,
    create_benchmark,
)
from llm_research_lab.engine.types import GenerateRequest, GenerateResponse


def test_builtins_are_registered() -> None:
    names = set(BENCHMARKS)
    assert {"arc_easy", "arc_challenge", "hellaswag", "winogrande", "piqa", "mmlu", "gsm8k"} <= names
    assert {"truthfulqa_mc1", "truthfulqa_mc2", "humaneval", "mmlu_world_religions"} <= names
    assert len([n for n in names if n.startswith("mmlu_")]) == 57
    assert create_benchmark("mmlu_virology").id == "mmlu_virology"


def test_unknown_benchmark_suggests_close_names() -> None:
    with pytest.raises(UnknownPluginError) as info:
        create_benchmark("hellaswg")
    assert "hellaswag" in info.value.suggestions
    assert "did you mean 'hellaswag'" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_duplicate_registration_is_refused() -> None:
    reg: Registry[Any] = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(registry.DuplicatePluginError):
        reg.register("a", 2)
    reg.register("a", 2, replace=True)
    assert reg["a"] == 2


def test_entry_point_plugins_are_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    ep = EntryPoint(name="demo", value="builtins:print", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == ep.group else [])
    monkeypatch.setattr(EntryPoint, "load", lambda self: lambda: calls.append(self.name))
    assert registry.load_plugins() == ["demo"]
    assert calls == ["demo"]


def test_custom_dataset_renders_template_and_scores() -> None:
    spec = CustomDatasetSpec(
        id="capitals",
        template="Q: What is the capital of {{ country }}?\nA:",
        metrics=("exact_match", "f1", "bleu", "rougeL"),
        until=("\n",),
    )
    bench = CustomDatasetBenchmark(spec)
    rows = [{"country": "France", "answer": "Paris"}, {"country": "Peru", "target": ["Lima", "Lima city"]}]
    p0, p1 = prepare_docs(bench, InMemorySource({"test": rows}))
    assert p0.requests == (GenerateRequest("Q: What is the capital of France?\nA:", until=("\n",)),)
    s0 = bench.score(p0, [GenerateResponse(" Paris")])
    assert s0["exact_match"] == 1.0 and s0["f1"] == 1.0 and s0["rougeL"] == 1.0
    s1 = bench.score(p1, [GenerateResponse("Lima city")])
    assert s1["exact_match"] == 1.0  # matches the second reference
    agg = bench.aggregate([s0, s1])
    assert agg["exact_match"] == 1.0 and agg["exact_match_stderr"] == 0.0


def test_custom_template_is_sandboxed_and_strict() -> None:
    unsafe = CustomDatasetBenchmark(CustomDatasetSpec(id="x", template="{{ ''.__class__.__mro__ }}"))
    with pytest.raises(BenchmarkError):
        next(prepare_docs(unsafe, InMemorySource({"test": [{"answer": "a"}]})))
    missing = CustomDatasetBenchmark(CustomDatasetSpec(id="y", template="{{ nope }}"))
    with pytest.raises(BenchmarkError, match="nope"):
        next(prepare_docs(missing, InMemorySource({"test": [{"answer": "a"}]})))
    with pytest.raises(BenchmarkError):
        CustomDatasetBenchmark(CustomDatasetSpec(id="z", template="{% if %}"))


def test_custom_unknown_metric_suggests() -> None:
    with pytest.raises(UnknownPluginError) as info:
        CustomDatasetBenchmark(CustomDatasetSpec(id="c", template="x", metrics=("exact_mach",)))
    assert "exact_match" in info.value.suggestions
    assert "accuracy" in METRICS


def test_create_benchmark_passes_options() -> None:
    letter = create_benchmark("mmlu_virology", method="generative_letter")
    assert letter.method == "generative_letter" and letter.id == "mmlu_virology"
    assert create_benchmark("arc_easy", method="generative_letter").metrics == ("acc",)
    with pytest.raises(BenchmarkError):
        create_benchmark("truthfulqa_mc2", method="generative_letter")
    with pytest.raises(BenchmarkError):
        create_benchmark("gsm8k", method="loglikelihood")
