"""Text metrics and answer extraction for generated answers.

`regex_extract` and `exact_match` follow lm-evaluation-harness 0.4.x semantics exactly (its
``RegexFilter`` and ``exact_match_hf_evaluate``), so a gsm8k score computed here equals the harness's.
F1 is the SQuAD token F1; BLEU and ROUGE delegate to sacrebleu and rouge-score (the reference
implementations) rather than re-deriving them.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

INVALID = "[invalid]"


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def regex_extract(text: str, pattern: str, *, group_select: int = 0, fallback: str = INVALID) -> str:
    """lm-eval's ``regex`` filter: the `group_select`-th ``findall`` match, stripped, else `fallback`.

    With several capture groups ``findall`` yields tuples; as in lm-eval the first non-empty group of
    the selected match is taken.
    """
    matches = _compile(pattern).findall(text)
    if not matches:
        return fallback
    try:
        match = matches[group_select]
    except IndexError:
        return fallback
    if isinstance(match, tuple):
        non_empty = [m for m in match if m]
        if not non_empty:
            return fallback
        match = non_empty[0]
    return str(match).strip()


def exact_match(
    prediction: str,
    reference: str,
    *,
    regexes_to_ignore: Sequence[str] = (),
    ignore_case: bool = False,
    ignore_punctuation: bool = False,
    ignore_numbers: bool = False,
) -> float:
    """1.0 if prediction equals reference after lm-eval's normalisations, else 0.0.

    Order matters and matches lm-eval: each regex is removed (``re.sub``) from both strings first, then
    case, punctuation and digits.
    """
    for pattern in regexes_to_ignore:
        prediction = re.sub(pattern, "", prediction)
        reference = re.sub(pattern, "", reference)
    if ignore_case:
        prediction, reference = prediction.lower(), reference.lower()
    if ignore_punctuation:
        table = str.maketrans("", "", string.punctuation)
        prediction, reference = prediction.translate(table), reference.translate(table)
    if ignore_numbers:
        table = str.maketrans("", "", string.digits)
        prediction, reference = prediction.translate(table), reference.translate(table)
    return 1.0 if prediction == reference else 0.0


_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, drop punctuation and articles, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token-level F1 between one prediction and one reference."""
    pred_tokens = normalize_answer(prediction).split()
    ref_tokens = normalize_answer(reference).split()
    if not pred_tokens or not ref_tokens:
        # SQuAD convention: both empty is a match, one empty is a miss.
        return float(pred_tokens == ref_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(ref_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)


def max_over_references(fn: Any, prediction: str, references: Iterable[str]) -> float:
    """The best score of `fn(prediction, ref)` over references (SQuAD's multi-answer rule)."""
    refs = list(references)
    if not refs:
        raise ValueError("at least one reference is needed")
    return max(float(fn(prediction, ref)) for ref in refs)


def sentence_bleu(prediction: str, references: Sequence[str]) -> float:
    """sacrebleu sentence BLEU (0-100, sacrebleu's default exp smoothing)."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction, list(references)).score)


def corpus_bleu(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """sacrebleu corpus BLEU (0-100); `references[i]` are the references of `predictions[i]`.

    Corpus BLEU is not a mean of sentence scores, so its uncertainty comes from ``bootstrap_ci``.
    """
    import sacrebleu

    if len(predictions) != len(references):
        raise ValueError("one reference list per prediction is needed")
    width = max(len(r) for r in references)
    # sacrebleu wants reference *streams*: stream j holds the j-th reference of every sample.
    streams = [[refs[j] if j < len(refs) else "" for refs in references] for j in range(width)]
    return float(sacrebleu.corpus_bleu(list(predictions), streams).score)


ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """rouge-score F-measures (0-1) for rouge1, rouge2 and rougeL."""
    scores = _rouge_scorer().score(reference, prediction)
    return {name: float(scores[name].fmeasure) for name in ROUGE_TYPES}


def extract_letter(text: str, letters: Sequence[str]) -> str | None:
    """The first standalone option letter in `text` ("B", "(B)", "B." count; "Because" does not)."""
    if not letters:
        return None
    alternatives = "".join(re.escape(letter) for letter in letters)
    match = re.search(rf"(?<![A-Za-z0-9])([{alternatives}])(?![A-Za-z0-9])", text)
    return match.group(1) if match else None
