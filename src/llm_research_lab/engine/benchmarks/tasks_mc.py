"""ARC, HellaSwag, WinoGrande and PIQA: prompt formats of lm-evaluation-harness 0.4.x.

Each class cites the lm-eval task file it follows. The shipped data lacks train splits for HellaSwag,
WinoGrande and PIQA; their few-shot examples then come from the evaluation split with the evaluated
document excluded (lm-eval's own rule for a pool that is the evaluation split), not from train.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from llm_research_lab.engine.benchmarks.base import BenchmarkError, Doc, PreparedDoc
from llm_research_lab.engine.benchmarks.multiple_choice import MultipleChoiceBenchmark
from llm_research_lab.engine.registry import benchmark
from llm_research_lab.engine.types import LoglikelihoodRequest


class _Arc(MultipleChoiceBenchmark):
    """lm_eval/tasks/arc/arc_easy.yaml: "Question: {{question}}\\nAnswer:", choices.text."""

    eval_split = "test"
    fewshot_split = "train"

    def doc_to_text(self, doc: Doc) -> str:
        return f"Question: {doc['question']}\nAnswer:"

    def doc_to_choices(self, doc: Doc) -> list[str]:
        return list(doc["choices"]["text"])

    def doc_to_target(self, doc: Doc) -> int:
        # Labels are A-E for most rows but 1-4 for some; lm-eval indexes the row's own label list.
        return list(doc["choices"]["label"]).index(doc["answerKey"])

    def letter_question(self, doc: Doc) -> str:
        return f"Question: {doc['question']}"


@benchmark("arc_easy")
class ArcEasy(_Arc):
    id = "arc_easy"


@benchmark("arc_challenge")
class ArcChallenge(_Arc):
    id = "arc_challenge"


def hellaswag_preprocess(text: str) -> str:
    """lm_eval/tasks/hellaswag/utils.py ``preprocess``: drop WikiHow bracket artefacts."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


@benchmark("hellaswag")
class HellaSwag(MultipleChoiceBenchmark):
    """lm_eval/tasks/hellaswag: doc_to_text "{{query}}", choices, gold = label.

    Hub rows (``ctx_a``/``ctx_b``/``endings``) get lm-eval's full preprocessing, including
    ``ctx_b.capitalize()``. The shipped rows are already preprocessed (llama.cpp's text form) but
    without that capitalisation, e.g. "... on a roof. he" where lm-eval has "... on a roof. He": the
    boundary between ctx_a and ctx_b is lost, so it cannot be restored. Scores on shipped data can
    therefore differ slightly from lm-eval's; hub data (allow_hub) matches exactly.
    """

    id = "hellaswag"
    eval_split = "validation"
    fewshot_split = "train"
    fewshot_fallback_split = "validation"

    def process_docs(self, rows: Sequence[Doc]) -> list[Doc]:
        out: list[Doc] = []
        for row in rows:
            if "ctx_a" in row:
                ctx = row["ctx_a"] + " " + row["ctx_b"].capitalize()
                out.append(
                    {
                        "query": hellaswag_preprocess(row["activity_label"] + ": " + ctx),
                        "choices": [hellaswag_preprocess(e) for e in row["endings"]],
                        "label": int(row["label"]),
                    }
                )
            else:
                out.append(row)
        return out

    def doc_to_text(self, doc: Doc) -> str:
        return str(doc["query"])

    def doc_to_choices(self, doc: Doc) -> list[str]:
        return list(doc["choices"])

    def doc_to_target(self, doc: Doc) -> int:
        return int(doc["label"])


@benchmark("piqa")
class Piqa(MultipleChoiceBenchmark):
    """lm_eval/tasks/piqa/piqa.yaml: "Question: {{goal}}\\nAnswer:", [sol1, sol2], label."""

    id = "piqa"
    eval_split = "validation"
    fewshot_split = "train"
    fewshot_fallback_split = "validation"

    def doc_to_text(self, doc: Doc) -> str:
        return f"Question: {doc['goal']}\nAnswer:"

    def doc_to_choices(self, doc: Doc) -> list[str]:
        return [doc["sol1"], doc["sol2"]]

    def doc_to_target(self, doc: Doc) -> int:
        return int(doc["label"])

    def letter_question(self, doc: Doc) -> str:
        return f"Question: {doc['goal']}"


@benchmark("winogrande")
class WinoGrande(MultipleChoiceBenchmark):
    """lm_eval/tasks/winogrande/preprocess_winogrande.py: partial evaluation.

    Each option fills the blank and becomes its own *context* (sentence up to the blank + option); the
    continuation is the fixed rest of the sentence after the blank, " " + rest. The model is scored
    on how likely the shared ending is after each filled-in start. Only ``acc`` (no acc_norm: the
    continuation is the same for both options).
    """

    id = "winogrande"
    eval_split = "validation"
    fewshot_split = "train"
    fewshot_fallback_split = "validation"
    loglikelihood_metrics = ("acc",)

    def doc_to_choices(self, doc: Doc) -> list[str]:
        """The per-option contexts (lm-eval's doc_to_choice)."""
        sentence: str = doc["sentence"]
        idx = sentence.index("_")
        return [sentence[:idx] + doc["option1"], sentence[:idx] + doc["option2"]]

    def continuation(self, doc: Doc) -> str:
        """lm-eval's doc_to_target: the sentence after the blank, stripped."""
        sentence: str = doc["sentence"]
        return sentence[sentence.index("_") + 1 :].strip()

    def doc_to_target(self, doc: Doc) -> int:
        return {"1": 0, "2": 1}[str(doc["answer"])]

    def doc_to_text(self, doc: Doc) -> str:
        # Only used for display; WinoGrande's contexts are per option (see build).
        return str(doc["sentence"])

    def letter_question(self, doc: Doc) -> str:
        return f"Fill in the blank: {doc['sentence']}"

    def letter_choices(self, doc: Doc) -> list[str]:
        return [doc["option1"], doc["option2"]]

    def fewshot_example(self, shot: Doc) -> str:
        # lm-eval: the shot's context for its gold option, then " " + continuation.
        ctx = self.doc_to_choices(shot)[self.doc_to_target(shot)]
        return ctx + self.target_delimiter + self.continuation(shot) + self.fewshot_delimiter

    def build(self, doc: Doc, doc_id: int, fewshot: Sequence[Doc]) -> PreparedDoc:
        if self.method == "generative_letter":
            return self._build_letter(doc, doc_id, fewshot)
        prefix = self.description(doc) + "".join(self.fewshot_example(s) for s in fewshot)
        contexts = [prefix + c for c in self.doc_to_choices(doc)]
        cont = self.target_delimiter + self.continuation(doc)
        gold = self.doc_to_target(doc)
        if not contexts:
            raise BenchmarkError("winogrande document without options")
        requests = tuple(LoglikelihoodRequest(c, cont) for c in contexts)
        return PreparedDoc(
            doc_id, requests, contexts[gold], cont.strip(), "loglikelihood", tuple(contexts), gold, doc
        )
