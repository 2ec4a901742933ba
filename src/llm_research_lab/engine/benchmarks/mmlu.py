"""MMLU (57 subjects + the ``mmlu`` aggregate), as lm_eval/tasks/mmlu/default/_default_template_yaml.

Per subject: description "The following are multiple choice questions (with answers) about
{subject with spaces}.\\n\\n", the first `k` dev rows of that subject as shots (sampler first_n), and
"{{question.strip()}}\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer:" with choices " A".." D".

The ``mmlu`` aggregate evaluates every subject. Its mean over all documents equals lm-eval's group
score (``weight_by_size: True``). Its documents are interleaved round-robin across subjects (first
question of each subject, then the second, ...) so that a `limit` gives a sample of every subject
rather than only the first subjects alphabetically; lm-eval instead applies a limit per subtask.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_research_lab.engine.benchmarks.base import BenchmarkError, DataSource, Doc, Method
from llm_research_lab.engine.benchmarks.multiple_choice import MultipleChoiceBenchmark
from llm_research_lab.engine.registry import BENCHMARKS

# Subject -> lm-eval group (the "tag" of each mmlu_<subject>.yaml).
MMLU_SUBJECTS: dict[str, str] = {
    "abstract_algebra": "stem", "anatomy": "stem", "astronomy": "stem", "business_ethics": "other",
    "clinical_knowledge": "other", "college_biology": "stem", "college_chemistry": "stem",
    "college_computer_science": "stem", "college_mathematics": "stem", "college_medicine": "other",
    "college_physics": "stem", "computer_security": "stem", "conceptual_physics": "stem",
    "econometrics": "social_sciences", "electrical_engineering": "stem", "elementary_mathematics": "stem",
    "formal_logic": "humanities", "global_facts": "other", "high_school_biology": "stem",
    "high_school_chemistry": "stem", "high_school_computer_science": "stem",
    "high_school_european_history": "humanities", "high_school_geography": "social_sciences",
    "high_school_government_and_politics": "social_sciences",
    "high_school_macroeconomics": "social_sciences", "high_school_mathematics": "stem",
    "high_school_microeconomics": "social_sciences", "high_school_physics": "stem",
    "high_school_psychology": "social_sciences", "high_school_statistics": "stem",
    "high_school_us_history": "humanities", "high_school_world_history": "humanities",
    "human_aging": "other", "human_sexuality": "social_sciences", "international_law": "humanities",
    "jurisprudence": "humanities", "logical_fallacies": "humanities", "machine_learning": "stem",
    "management": "other", "marketing": "other", "medical_genetics": "other", "miscellaneous": "other",
    "moral_disputes": "humanities", "moral_scenarios": "humanities", "nutrition": "other",
    "philosophy": "humanities", "prehistory": "humanities", "professional_accounting": "other",
    "professional_law": "humanities", "professional_medicine": "other",
    "professional_psychology": "social_sciences", "public_relations": "social_sciences",
    "security_studies": "social_sciences", "sociology": "social_sciences",
    "us_foreign_policy": "social_sciences", "virology": "other", "world_religions": "humanities",
}  # fmt: skip

CHOICE_LABELS = ["A", "B", "C", "D"]


class Mmlu(MultipleChoiceBenchmark):
    """One MMLU subject, or all of them when `subject` is None."""

    loglikelihood_metrics = ("acc",)
    eval_split = "test"
    fewshot_split = "dev"
    sampler = "first_n"

    def __init__(self, subject: str | None = None, method: Method = "loglikelihood") -> None:
        if subject is not None and subject not in MMLU_SUBJECTS:
            raise BenchmarkError(f"unknown MMLU subject {subject!r}")
        self.subject = subject
        self.id = "mmlu" if subject is None else f"mmlu_{subject}"
        super().__init__(method)

    def process_docs(self, rows: Sequence[Doc]) -> list[Doc]:
        if self.subject is not None:
            return [r for r in rows if r["subject"] == self.subject]
        by_subject: dict[str, list[Doc]] = {}
        for r in rows:
            by_subject.setdefault(str(r["subject"]), []).append(r)
        groups = [by_subject[s] for s in sorted(by_subject)]
        longest = max((len(g) for g in groups), default=0)
        return [g[i] for i in range(longest) for g in groups if i < len(g)]

    def fewshot_docs(self, source: DataSource, num_fewshot: int, doc_id: int, doc: Doc) -> Sequence[Doc]:
        if num_fewshot <= 0:
            return []
        pool = [r for r in source.rows("dev") if r["subject"] == doc["subject"]]
        if num_fewshot > len(pool):
            raise BenchmarkError(f"{self.id}: {num_fewshot} shots requested, {len(pool)} dev rows available")
        return pool[:num_fewshot]

    def description(self, doc: Doc) -> str:
        subject = str(doc["subject"]).replace("_", " ")
        return f"The following are multiple choice questions (with answers) about {subject}.\n\n"

    def doc_to_text(self, doc: Doc) -> str:
        c = doc["choices"]
        return f"{str(doc['question']).strip()}\nA. {c[0]}\nB. {c[1]}\nC. {c[2]}\nD. {c[3]}\nAnswer:"

    def doc_to_choices(self, doc: Doc) -> list[str]:
        return list(CHOICE_LABELS)

    def doc_to_target(self, doc: Doc) -> int:
        return int(doc["answer"])

    def letter_question(self, doc: Doc) -> str:
        return str(doc["question"]).strip()

    def letter_choices(self, doc: Doc) -> list[str]:
        return [str(c) for c in doc["choices"]]


def _register() -> None:
    BENCHMARKS.register("mmlu", Mmlu)
    for subject in MMLU_SUBJECTS:
        # Bind subject now; a bare lambda in the loop would see only the last subject.
        def factory(method: Method = "loglikelihood", s: str = subject) -> Mmlu:
            return Mmlu(s, method)

        BENCHMARKS.register(f"mmlu_{subject}", factory)


_register()
