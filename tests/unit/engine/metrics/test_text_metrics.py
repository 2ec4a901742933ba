"""exact_match with lm-eval's gsm8k regexes, F1, BLEU and ROUGE equal to the reference packages."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from llm_research_lab.engine.benchmarks.gsm8k import flexible_extract, gsm8k_match, strict_extract
from llm_research_lab.engine.metrics import (
    corpus_bleu,
    exact_match,
    extract_letter,
    regex_extract,
    rouge,
    sentence_bleu,
    token_f1,
)
from llm_research_lab.engine.registry import METRICS

GOLD = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18.\n#### 18"


def test_strict_match_takes_the_number_after_hashes() -> None:
    assert strict_extract("She makes 18 dollars.\n#### 18") == "18"
    assert strict_extract("#### 1,234.\nQuestion:") == "1,234."
    assert strict_extract("The answer is 18.") == "[invalid]"


def test_flexible_extract_takes_the_last_number() -> None:
    assert flexible_extract("16 - 3 - 4 = 9 eggs, 9 * 2 = $18.") == "$18."
    assert flexible_extract("so 7 apples") == "7"  # second alternative: single digit
    assert flexible_extract("no digits at all") == "[invalid]"


def test_gsm8k_exact_match_normalisation() -> None:
    # target "(?s).*#### " strips the worked solution; ",", "$" and a trailing "." are ignored.
    assert gsm8k_match("18", GOLD) == 1.0
    assert gsm8k_match("$18.", GOLD) == 1.0
    assert gsm8k_match("1,8", GOLD) == 1.0  # commas are removed everywhere, as in lm-eval
    assert gsm8k_match("18.0", GOLD) == 0.0
    assert gsm8k_match("[invalid]", GOLD) == 0.0
    response = "Janet has 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars.\n#### 18"
    assert gsm8k_match(strict_extract(response), GOLD) == 1.0
    assert gsm8k_match(flexible_extract("She makes $18 every day."), GOLD) == 1.0


def test_exact_match_options() -> None:
    assert exact_match("Paris", "paris") == 0.0
    assert exact_match("Paris", "paris", ignore_case=True) == 1.0
    assert exact_match("Paris!", "Paris", ignore_punctuation=True) == 1.0
    assert exact_match("abc123", "abc", ignore_numbers=True) == 1.0


def test_regex_extract_group_select_and_tuple_groups() -> None:
    assert regex_extract("a1 b2 c3", r"[a-z](\d)", group_select=-1) == "3"
    assert regex_extract("x", r"(a)|(x)") == "x"  # first non-empty group of the tuple
    assert regex_extract("nothing", r"(\d+)", fallback="N/A") == "N/A"


def test_token_f1_hand_computed() -> None:
    # normalised: pred "cat sat on mat", ref "cat sat" -> common 2, P = 2/4, R = 2/2, F1 = 2/3.
    assert token_f1("The cat sat on the mat.", "a cat sat") == pytest.approx(2 / 3)
    assert token_f1("Paris", "paris") == 1.0
    assert token_f1("", "") == 1.0
    assert token_f1("London", "Paris") == 0.0


def test_f1_metric_takes_best_reference() -> None:
    assert METRICS["f1"]("blue whale", ["whale", "blue whale"]) == 1.0


def test_bleu_equals_sacrebleu() -> None:
    hyp = "the cat is on the mat today"
    refs = ["the cat is on the mat", "there is a cat on the mat"]
    assert sentence_bleu(hyp, refs) == pytest.approx(sacrebleu.sentence_bleu(hyp, refs).score)
    hyps = ["the cat is on the mat", "a dog barks loudly"]
    ref_lists = [["the cat sat on the mat"], ["the dog barks loudly"]]
    expected = sacrebleu.corpus_bleu(hyps, [["the cat sat on the mat", "the dog barks loudly"]]).score
    assert corpus_bleu(hyps, ref_lists) == pytest.approx(expected)
    assert METRICS["bleu"](hyp, refs) == pytest.approx(sacrebleu.sentence_bleu(hyp, refs).score)


def test_rouge_equals_rouge_score() -> None:
    pred, ref = "the quick brown fox jumps", "the quick brown dog jumps high"
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    expected = {k: v.fmeasure for k, v in scorer.score(ref, pred).items()}
    assert rouge(pred, ref) == pytest.approx(expected)
    assert METRICS["rougeL"](pred, [ref]) == pytest.approx(expected["rougeL"])
    assert rouge(pred, ref)["rouge1"] == pytest.approx(2 * (4 / 5) * (4 / 6) / (4 / 5 + 4 / 6))


def test_extract_letter_finds_first_standalone_letter() -> None:
    letters = ["A", "B", "C", "D"]
    assert extract_letter("B", letters) == "B"
    assert extract_letter("The answer is (C).", letters) == "C"
    assert extract_letter("Because D.", letters) == "D"  # the B of "Because" is not standalone
    assert extract_letter("E", letters) is None
    assert extract_letter("no idea", letters) is None
