"""The NeMo Evaluator backend's pure helpers: results mapping (``results.yml`` in local mode, the
service's results in remote mode), the GSM8K answer, and the bring-your-own-benchmark rows local mode
writes from the catalog's data."""

from __future__ import annotations

import math

import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.catalog.resolver import DataResolver
from llm_research_lab.engine.backends import BackendUnavailableError
from llm_research_lab.engine.backends.nemo import LETTERS, byob_rows, gsm8k_answer, map_results
from llm_research_lab.engine.registry import create_benchmark


@pytest.fixture(scope="module")
def resolver() -> DataResolver:
    return load_catalog().resolver()


# --------------------------------------------------------------------------- map_results


def test_scores_and_stderr_of_tasks_and_groups() -> None:
    raw = {
        "tasks": {
            "gsm8k": {
                "metrics": {
                    "exact_match": {
                        "scores": {
                            "strict": {"value": 0.4, "stats": {"stderr": 0.2}},
                            "flexible": {"value": 1, "stats": {}},
                        }
                    }
                }
            }
        },
        "groups": {
            "mmlu": {"metrics": {"acc": {"scores": {"micro": {"value": 0.25, "stats": {"stderr": 0.01}}}}}}
        },
    }
    assert map_results(raw) == {
        "strict": 0.4,
        "strict_stderr": 0.2,
        "flexible": 1.0,
        "micro": 0.25,
        "micro_stderr": 0.01,
    }
    # results.yml wraps the same under "results"
    assert map_results({"results": raw}) == map_results(raw)


def test_repeated_score_names_are_prefixed_with_their_metric() -> None:
    raw = {
        "tasks": {
            "t": {
                "metrics": {
                    "acc": {"scores": {"mean": {"value": 0.5, "stats": {"stderr": 0.1}}}},
                    "f1": {"scores": {"mean": {"value": 0.7, "stats": {"stderr": 0.2}}}},
                }
            }
        }
    }
    assert map_results(raw) == {"mean": 0.5, "mean_stderr": 0.1, "f1_mean": 0.7, "f1_mean_stderr": 0.2}


def test_nan_stderr_bool_and_missing_values_are_ignored() -> None:
    raw = {
        "tasks": {
            "t": {
                "metrics": {
                    "acc": {"scores": {"acc": {"value": 0.5, "stats": {"stderr": math.nan}}}},
                    "flag": {"scores": {"passed": {"value": True, "stats": {"stderr": math.inf}}}},
                    "text": {"scores": {"note": {"value": "n/a"}, "none": None}},
                    "empty": None,
                }
            },
            "nothing": None,
        },
        "groups": None,
    }
    assert map_results(raw) == {"acc": 0.5}
    assert map_results({}) == {}


# --------------------------------------------------------------------------- gsm8k_answer


@pytest.mark.parametrize(
    ("target", "answer"),
    [
        ("16 - 3 - 4 = 9 eggs.\n9 * 2 = $18\n#### 18", "18"),
        ("#### 1,234", "1234"),
        ("  #### -5 ", "-5"),
        ("42", "42"),
    ],
)
def test_gsm8k_answer(target: str, answer: str) -> None:
    assert gsm8k_answer(target) == answer


# --------------------------------------------------------------------------- byob_rows


def test_multiple_choice_rows_ask_for_the_gold_letter(resolver: DataResolver) -> None:
    rows, kind = byob_rows("arc_challenge", resolver, 3)
    assert kind == "letter" and len(rows) == 3
    bench = create_benchmark("arc_challenge")
    docs = bench.docs(resolver.source("arc_challenge"))
    for i, row in enumerate(rows):
        p = bench.build(docs[i], i, [])
        assert p.gold is not None
        assert row["target"] == LETTERS[p.gold]
        for j, choice in enumerate(p.choices):
            assert f"\n{LETTERS[j]}. {choice}\n" in row["prompt"]
        assert row["prompt"].endswith("Answer with the letter only.")
        assert "Answer:" not in row["prompt"]
    assert rows[0]["target"] == "C"  # the first ARC-Challenge question's answerKey


def test_generation_rows_target_the_final_number(resolver: DataResolver) -> None:
    rows, kind = byob_rows("gsm8k", resolver, 2)
    assert kind == "number"
    assert [r["target"] for r in rows] == ["18", "3"]
    assert rows[0]["prompt"].startswith("Question: Janet")


def test_limit_is_respected_and_none_means_all(resolver: DataResolver) -> None:
    assert len(byob_rows("gsm8k", resolver, 5)[0]) == 5
    assert len(byob_rows("gsm8k", resolver, 0)[0]) == 0
    total = len(create_benchmark("arc_challenge").docs(resolver.source("arc_challenge")))
    assert len(byob_rows("arc_challenge", resolver, total + 10)[0]) == total
    assert len(byob_rows("arc_challenge", resolver, None)[0]) == total


def test_named_nemo_task_points_to_remote_mode(resolver: DataResolver) -> None:
    with pytest.raises(BackendUnavailableError, match="mode: remote") as info:
        byob_rows("mmlu_pro", resolver, 5)
    assert "'mmlu_pro'" in str(info.value)
