"""acc / acc_norm / mc1 / mc2 / pass@k, checked against hand-computed values."""

from __future__ import annotations

import math
from itertools import combinations

import pytest

from llm_research_lab.engine.metrics import mc1, mc2, mc_predictions, multiple_choice_scores, pass_at_k


def test_acc_and_acc_norm_pick_differently_when_length_matters() -> None:
    # raw: -4 > -6 picks choice 0; per character: -4/2 = -2.0 vs -6/12 = -0.5 picks choice 1.
    lls = [-4.0, -6.0]
    choices = ["ab", "abcdefghijkl"]
    assert mc_predictions(lls, choices) == (0, 1)
    assert multiple_choice_scores(lls, choices, gold=1) == {"acc": 0.0, "acc_norm": 1.0}
    assert multiple_choice_scores(lls, choices, gold=0) == {"acc": 1.0, "acc_norm": 0.0}


def test_acc_norm_divides_by_characters_not_bytes() -> None:
    # "é" is 1 character but 2 UTF-8 bytes. Per character: -2/2 = -1.0 beats -3.3/3 = -1.1;
    # per byte it would be -2/2 = -1.0 vs -3.3/6 = -0.55, picking the second choice instead.
    lls = [-2.0, -3.3]
    choices = ["ab", "ééé"]
    assert mc_predictions(lls, choices)[1] == 0


def test_ties_go_to_the_first_choice() -> None:
    assert mc_predictions([-1.0, -1.0, -2.0], ["a", "b", "c"]) == (0, 0)


def test_mc1_is_argmax_against_index_zero() -> None:
    assert mc1([-1.0, -2.0, -3.0]) == 1.0
    assert mc1([-2.0, -1.0, -3.0]) == 0.0


def test_mc2_hand_computed() -> None:
    # probabilities proportional to exp(ll): e^0, e^-1, e^-2 ; true answers are the first two.
    lls = [0.0, -1.0, -2.0]
    expected = (1 + math.exp(-1)) / (1 + math.exp(-1) + math.exp(-2))
    assert mc2(lls, [1, 1, 0]) == pytest.approx(expected)
    assert mc2(lls, [1, 1, 0]) == pytest.approx(0.9100, abs=1e-4)


def test_mc2_survives_very_negative_loglikelihoods() -> None:
    # plain exp() underflows to 0/0 here; the shifted form gives the right answer.
    assert mc2([-2000.0, -2000.0], [1, 0]) == pytest.approx(0.5)


def _pass_at_k_formula(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(("n", "c", "k"), [(10, 3, 1), (10, 3, 5), (20, 0, 1), (5, 5, 2), (200, 13, 10)])
def test_pass_at_k_matches_the_closed_form(n: int, c: int, k: int) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(_pass_at_k_formula(n, c, k))


def test_pass_at_k_equals_subset_enumeration() -> None:
    # pass@2 over 4 samples with 1 correct: 3 of the 6 pairs contain the correct sample.
    samples = [True, False, False, False]
    pairs = list(combinations(samples, 2))
    assert pass_at_k(4, 1, 2) == pytest.approx(sum(any(p) for p in pairs) / len(pairs)) == 0.5


def test_pass_at_1_is_fraction_correct() -> None:
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
