from __future__ import annotations

import math
import time

import pytest

from llm_research_lab.engine.sandbox import (
    HumanEvalProblem,
    Sandbox,
    SandboxLimits,
    estimate_pass_at_k,
    evaluate_humaneval,
    humaneval_program,
    pass_at_k,
    score_humaneval,
)


def test_dataset_has_164_problems(humaneval_problems: list[HumanEvalProblem]) -> None:
    assert len(humaneval_problems) == 164
    assert humaneval_problems[0].task_id == "HumanEval/0"
    assert humaneval_problems[0].entry_point == "has_close_elements"


def test_program_is_prompt_completion_test_and_check() -> None:
    problem = HumanEvalProblem(
        "T/0", "def f():\n", "    return 1\n", "def check(c):\n    assert c() == 1\n", "f"
    )
    assert humaneval_program(problem, "    return 2\n") == (
        "def f():\n    return 2\n\ndef check(c):\n    assert c() == 1\n\ncheck(f)"
    )


async def test_all_canonical_solutions_pass(humaneval_problems: list[HumanEvalProblem]) -> None:
    started = time.monotonic()
    async with Sandbox(SandboxLimits(timeout_s=10)) as sandbox:
        results = await evaluate_humaneval(
            humaneval_problems,
            {p.task_id: [p.canonical_solution] for p in humaneval_problems},
            sandbox=sandbox,
        )
    elapsed = time.monotonic() - started
    failures = {task: runs[0] for task, runs in results.items() if not runs[0].passed}
    assert failures == {}
    assert len(results) == 164
    print(f"164 canonical HumanEval solutions in {elapsed:.1f} s")
    assert elapsed < 60


async def test_wrong_completions_fail(humaneval_problems: list[HumanEvalProblem]) -> None:
    problems = {p.task_id: p for p in humaneval_problems}
    wrong = {
        "HumanEval/0": ["    return False\n"],  # plausible but wrong
        "HumanEval/2": ["    return number\n"],  # truncate_number: wrong value
        "HumanEval/4": ["    return (\n"],  # syntax error
        "HumanEval/7": ["    import sys\n    sys.exit(0)\n"],  # tries to skip the tests
        "HumanEval/10": ["    while True:\n        pass\n"],  # never returns
        "HumanEval/12": ["    raise RuntimeError('no')\n"],
    }
    results = await evaluate_humaneval(problems.values(), wrong, timeout_s=2)
    statuses = {task: runs[0].status for task, runs in results.items()}
    assert statuses == {
        "HumanEval/0": "failed",
        "HumanEval/2": "failed",
        "HumanEval/4": "failed",
        "HumanEval/7": "failed",
        "HumanEval/10": "timeout",
        "HumanEval/12": "failed",
    }


async def test_score_humaneval_mixes_right_and_wrong(humaneval_problems: list[HumanEvalProblem]) -> None:
    first, second = humaneval_problems[0], humaneval_problems[1]
    completions = {
        first.task_id: [first.canonical_solution, "    return None\n", first.canonical_solution],
        second.task_id: ["    return []\n"] * 3,
    }
    scores = await score_humaneval(humaneval_problems, completions, k=(1, 2, 10))
    # task 1: n=3, c=2 -> pass@1 = 2/3, pass@2 = 1; task 2: c=0. pass@10 is left out (k > n).
    assert scores == pytest.approx({"pass@1": (2 / 3 + 0) / 2, "pass@2": (1.0 + 0) / 2})


async def test_unknown_task_is_rejected(humaneval_problems: list[HumanEvalProblem]) -> None:
    with pytest.raises(ValueError, match="unknown tasks"):
        await score_humaneval(humaneval_problems, {"HumanEval/999": ["pass"]})


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (10, 3, 1, 0.3),  # pass@1 is the plain pass rate
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 2, 5, 1 - 56 / 252),  # 1 - C(8,5)/C(10,5) = 7/9
        (4, 3, 2, 1.0),  # n - c < k: every k-subset has a pass
        (200, 13, 100, 1 - math.comb(187, 100) / math.comb(200, 100)),
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert estimate_pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_pass_at_k_is_stable_for_large_n() -> None:
    # C(5000, 2500) overflows a float; the product form does not.
    value = estimate_pass_at_k(5000, 1, 2500)
    assert value == pytest.approx(0.5)


def test_pass_at_k_rejects_invalid_counts() -> None:
    with pytest.raises(ValueError):
        estimate_pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        estimate_pass_at_k(3, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k({}, (1,))


def test_pass_at_k_only_reports_k_up_to_the_smallest_n() -> None:
    scores = pass_at_k({"a": [True, False, False, False], "b": [False, False]}, (1, 2, 4))
    assert set(scores) == {"pass@1", "pass@2"}
    assert scores["pass@1"] == pytest.approx((0.25 + 0.0) / 2)
    assert scores["pass@2"] == pytest.approx((0.5 + 0.0) / 2)
