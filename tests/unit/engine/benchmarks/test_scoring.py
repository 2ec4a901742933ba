"""Scoring of prepared documents with fake model responses, and the generative-letter fallback."""

from __future__ import annotations

import pytest

from llm_research_lab.catalog.resolver import DataResolver
from llm_research_lab.engine.benchmarks import BenchmarkError, InMemorySource, prepare_docs
from llm_research_lab.engine.benchmarks.humaneval import HumanEval
from llm_research_lab.engine.benchmarks.mmlu import Mmlu
from llm_research_lab.engine.benchmarks.tasks_mc import ArcEasy
from llm_research_lab.engine.benchmarks.truthfulqa import TruthfulQAMC2
from llm_research_lab.engine.registry import create_benchmark
from llm_research_lab.engine.types import GenerateRequest, GenerateResponse, LoglikelihoodResponse

ARC_ROW = {
    "id": "x1",
    "question": "Which is a mammal?",
    "choices": {"text": ["Shark", "Dolphin", "Trout"], "label": ["A", "B", "C"]},
    "answerKey": "B",
}


def _ll(*values: float) -> list[LoglikelihoodResponse]:
    return [LoglikelihoodResponse(v, False) for v in values]


def test_arc_acc_and_acc_norm() -> None:
    bench = ArcEasy()
    src = InMemorySource({"test": [ARC_ROW]})
    (p,) = prepare_docs(bench, src)
    # raw argmax is "Shark" (-5), per character "Dolphin" (-6/7 ≈ -0.86 beats -5/5 = -1.0).
    assert bench.score(p, _ll(-5.0, -6.0, -9.0)) == {"acc": 0.0, "acc_norm": 1.0}
    agg = bench.aggregate([{"acc": 0.0, "acc_norm": 1.0}, {"acc": 1.0, "acc_norm": 1.0}])
    assert agg == {"acc": 0.5, "acc_stderr": 0.5, "acc_norm": 1.0, "acc_norm_stderr": 0.0}


def test_numeric_answer_keys_index_the_rows_own_labels() -> None:
    row = {**ARC_ROW, "choices": {"text": ["a", "b", "c"], "label": ["1", "2", "3"]}, "answerKey": "3"}
    assert ArcEasy().doc_to_target(row) == 2


def test_generative_letter_fallback() -> None:
    bench = ArcEasy(method="generative_letter")
    assert bench.metrics == ("acc",) and bench.method == "generative_letter"
    (p,) = prepare_docs(bench, InMemorySource({"test": [ARC_ROW]}))
    (req,) = p.requests
    assert isinstance(req, GenerateRequest)
    assert req.context == (
        "Answer with the letter of the correct option.\n\n"
        "Question: Which is a mammal?\nA. Shark\nB. Dolphin\nC. Trout\nAnswer:"
    )
    assert p.method == "generative_letter" and p.target == "B"
    assert bench.score(p, [GenerateResponse(" B. Dolphin")]) == {"acc": 1.0}
    assert bench.score(p, [GenerateResponse("The answer is (C)")]) == {"acc": 0.0}
    assert bench.score(p, [GenerateResponse("I am not sure")]) == {"acc": 0.0}


def test_generative_letter_with_fewshot_shows_answers(resolver: DataResolver) -> None:
    bench = create_benchmark("mmlu_anatomy")
    letter = Mmlu("anatomy", method="generative_letter")
    src = resolver.source("mmlu_anatomy")
    (p,) = prepare_docs(letter, src, num_fewshot=1, limit=1)
    assert "What is the embryological origin of the hyoid bone?\nA. The first pharyngeal arch" in p.prompt
    assert "\nAnswer: D\n\nA lesion causing" in p.prompt
    assert bench.method == "loglikelihood"


def test_mc2_scoring_uses_labels() -> None:
    bench = TruthfulQAMC2()
    row = {
        "question": "Q?",
        "mc1_targets": {"choices": ["t", "f"], "labels": [1, 0]},
        "mc2_targets": {"choices": ["t1", "t2", "f1"], "labels": [1, 1, 0]},
    }
    (p,) = prepare_docs(bench, InMemorySource({"validation": [row]}))
    assert len(p.requests) == 3
    score = bench.score(p, _ll(0.0, -1.0, -2.0))["acc"]
    assert score == pytest.approx(0.9100, abs=1e-4)
    with pytest.raises(BenchmarkError):
        TruthfulQAMC2(method="generative_letter")


def test_gsm8k_scores_both_filters(resolver: DataResolver) -> None:
    bench = create_benchmark("gsm8k")
    (p,) = prepare_docs(bench, resolver.source("gsm8k"), num_fewshot=0, limit=1)
    assert bench.score(p, [GenerateResponse("9 eggs * $2 = $18.\n#### 18")]) == {
        "exact_match_strict": 1.0,
        "exact_match_flexible": 1.0,
    }
    assert bench.score(p, [GenerateResponse("She makes $18 a day.")]) == {
        "exact_match_strict": 0.0,
        "exact_match_flexible": 1.0,
    }


def test_humaneval_score_runs_the_program_through_the_executor(resolver: DataResolver) -> None:
    seen: list[tuple[str, float]] = []

    def execute(program: str, timeout: float) -> bool:
        seen.append((program, timeout))
        return "return False" in program

    bench = HumanEval(execute, timeout=5.0)
    (p,) = prepare_docs(bench, resolver.source("humaneval"), limit=1)
    assert bench.score(p, [GenerateResponse("    return False\n")]) == {"pass@1": 1.0}
    assert bench.score(
        p, [GenerateResponse("    return True\n"), GenerateResponse("    return False\n")]
    ) == {"pass@1": 0.5}
    program, timeout = seen[0]
    assert program.startswith(p.prompt + "    return False\n\n")
    assert program.endswith("check(has_close_elements)") and timeout == 5.0
    with pytest.raises(BenchmarkError, match="sandbox"):
        HumanEval().score(p, [GenerateResponse("x")])


def test_winogrande_scores_acc_only(resolver: DataResolver) -> None:
    bench = create_benchmark("winogrande")
    (p,) = prepare_docs(bench, resolver.source("winogrande"), limit=1)
    assert bench.score(p, _ll(-3.0, -1.0)) == {"acc": 1.0}
    assert bench.score(p, _ll(-1.0, -3.0)) == {"acc": 0.0}


def test_wrong_number_of_responses_is_an_error() -> None:
    bench = ArcEasy()
    (p,) = prepare_docs(bench, InMemorySource({"test": [ARC_ROW]}))
    with pytest.raises(BenchmarkError):
        bench.score(p, _ll(-1.0))


def test_fewshot_from_validation_excludes_the_evaluated_doc(resolver: DataResolver) -> None:
    bench = create_benchmark("piqa")
    src = resolver.source("piqa")
    docs = bench.docs(src)
    for i in range(50):
        assert docs[i] not in bench.fewshot_docs(src, 5, i, docs[i])


def test_fewshot_is_independent_of_call_order(resolver: DataResolver) -> None:
    src = resolver.source("gsm8k")
    a, b = create_benchmark("gsm8k"), create_benchmark("gsm8k")
    docs = a.docs(src)
    forward = [a.fewshot_docs(src, 5, i, docs[i]) for i in range(5)]
    backward = [b.fewshot_docs(src, 5, i, docs[i]) for i in reversed(range(5))][::-1]
    assert forward == backward
