"""Exact prompts for one real document of each benchmark, as lm-evaluation-harness 0.4.x builds them.

The expected strings were derived by hand from lm-eval's task YAMLs (doc_to_text / doc_to_choice /
doc_to_target, target_delimiter " ", fewshot_delimiter "\\n\\n", description) and are written out
literally so a formatting change anywhere shows up here.
"""

from __future__ import annotations

from llm_research_lab.catalog.resolver import DataResolver
from llm_research_lab.engine.benchmarks import prepare_docs
from llm_research_lab.engine.benchmarks.truthfulqa import QA_PROMPT
from llm_research_lab.engine.registry import create_benchmark
from llm_research_lab.engine.types import GenerateRequest, LoglikelihoodRequest


def _first(bench_id: str, resolver: DataResolver, shots: int = 0):  # type: ignore[no-untyped-def]
    bench = create_benchmark(bench_id)
    return bench, next(prepare_docs(bench, resolver.source(bench_id), num_fewshot=shots, limit=1))


def test_arc_easy_zero_shot(resolver: DataResolver) -> None:
    _, p = _first("arc_easy", resolver)
    ctx = (
        "Question: Which statement best explains why photosynthesis is the foundation of most food webs?"
        "\nAnswer:"
    )
    assert p.requests == (
        LoglikelihoodRequest(ctx, " Sunlight is the source of energy for nearly all ecosystems."),
        LoglikelihoodRequest(ctx, " Most ecosystems are found on land instead of in water."),
        LoglikelihoodRequest(ctx, " Carbon dioxide is more available than other gases."),
        LoglikelihoodRequest(ctx, " The producers in all ecosystems are plants."),
    )
    assert (p.gold, p.target, p.method) == (
        0,
        "Sunlight is the source of energy for nearly all ecosystems.",
        "loglikelihood",
    )


def test_arc_easy_two_shot_uses_lm_evals_seeded_sample_of_train(resolver: DataResolver) -> None:
    _, p = _first("arc_easy", resolver, shots=2)
    assert p.prompt == (
        "Question: Which of these resources will most likely be depleted first?\nAnswer: Fossil fuels\n\n"
        "Question: Which action is an example of good water management?\n"
        "Answer: turning off the faucet when brushing teeth\n\n"
        "Question: Which statement best explains why photosynthesis is the foundation of most food webs?"
        "\nAnswer:"
    )


def test_arc_fewshot_sequence_is_lm_evals(resolver: DataResolver) -> None:
    # random.Random(1234) advanced once per document, in document order (lm-eval ContextSampler).
    bench = create_benchmark("arc_easy")
    src = resolver.source("arc_easy")
    docs = bench.docs(src)
    ids = [[d["id"] for d in bench.fewshot_docs(src, 3, i, docs[i])] for i in (1, 0)]
    assert ids == [
        ["NYSEDREGENTS_2016_4_26", "CSZ_2006_5_CSZ10326", "Mercury_7159408"],
        ["TAKS_2009_8_40", "Mercury_405167", "MCAS_1999_4_29"],
    ]


def test_arc_challenge(resolver: DataResolver) -> None:
    _, p = _first("arc_challenge", resolver)
    assert p.prompt == (
        "Question: An astronomer observes that a planet rotates faster after a meteorite impact. "
        "Which is the most likely effect of this increase in rotation?\nAnswer:"
    )
    assert [r.continuation for r in p.requests if isinstance(r, LoglikelihoodRequest)][2] == (
        " Planetary days will become shorter."
    )
    assert p.gold == 2


def test_hellaswag_uses_the_shipped_query(resolver: DataResolver) -> None:
    # lm-eval has "... on a roof. He" (ctx_b capitalised); the shipped text form keeps "he".
    _, p = _first("hellaswag", resolver)
    assert p.prompt == "Roof shingle removal: A man is sitting on a roof. he"
    assert [r.continuation for r in p.requests if isinstance(r, LoglikelihoodRequest)] == [
        " is using wrap to wrap a pair of skis.",
        " is ripping level tiles off.",
        " is holding a rubik's cube.",
        " starts pulling up roofing on a roof.",
    ]
    assert p.gold == 3


def test_hellaswag_hub_rows_get_lm_evals_preprocessing() -> None:
    bench = create_benchmark("hellaswag")
    from llm_research_lab.engine.benchmarks import InMemorySource

    row = {
        "activity_label": "Roof shingle removal",
        "ctx_a": "A man is sitting on a roof.",
        "ctx_b": "he",
        "endings": ["is using wrap [title] to wrap skis.", "b", "c", "d"],
        "label": "3",
    }
    (doc,) = bench.docs(InMemorySource({"validation": [row]}))
    assert doc["query"] == "Roof shingle removal: A man is sitting on a roof. He"
    assert doc["choices"][0] == "is using wrap. to wrap skis."
    assert doc["label"] == 3


def test_winogrande_partial_evaluation(resolver: DataResolver) -> None:
    _, p = _first("winogrande", resolver)
    assert p.requests == (
        LoglikelihoodRequest(
            "Sarah was a much better surgeon than Maria so Sarah", " always got the easier cases."
        ),
        LoglikelihoodRequest(
            "Sarah was a much better surgeon than Maria so Maria", " always got the easier cases."
        ),
    )
    assert p.gold == 1


def test_winogrande_fewshot_renders_the_gold_option(resolver: DataResolver) -> None:
    _, p = _first("winogrande", resolver, shots=1)
    assert p.requests[0].context == (
        "Ian laughs at Ryan because of the small Christmas tree they picked out. "
        "Ryan wants a table top tree.\n\n"
        "Sarah was a much better surgeon than Maria so Sarah"
    )


def test_piqa(resolver: DataResolver) -> None:
    _, p = _first("piqa", resolver)
    assert p.prompt == "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:"
    assert len(p.requests) == 2
    assert p.requests[1] == LoglikelihoodRequest(
        p.prompt,
        " Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material, "
        "you will also need to supply it with a water bottle and a food dish.",
    )
    assert p.gold == 0


def test_mmlu_subject_one_shot_from_dev(resolver: DataResolver) -> None:
    _, p = _first("mmlu_anatomy", resolver, shots=1)
    assert p.prompt == (
        "The following are multiple choice questions (with answers) about anatomy.\n\n"
        "What is the embryological origin of the hyoid bone?\n"
        "A. The first pharyngeal arch\nB. The first and second pharyngeal arches\n"
        "C. The second pharyngeal arch\nD. The second and third pharyngeal arches\nAnswer: D\n\n"
        "A lesion causing compression of the facial nerve at the stylomastoid foramen will cause "
        "ipsilateral\n"
        "A. paralysis of the facial muscles.\n"
        "B. paralysis of the facial muscles and loss of taste.\n"
        "C. paralysis of the facial muscles, loss of taste and lacrimation.\n"
        "D. paralysis of the facial muscles, loss of taste, lacrimation and decreased salivation.\n"
        "Answer:"
    )
    assert [r.continuation for r in p.requests if isinstance(r, LoglikelihoodRequest)] == [
        " A",
        " B",
        " C",
        " D",
    ]
    assert p.gold == 0


def test_mmlu_aggregate_interleaves_subjects(resolver: DataResolver) -> None:
    bench = create_benchmark("mmlu")
    docs = bench.docs(resolver.source("mmlu"))
    assert len(docs) == 14042
    assert [d["subject"] for d in docs[:3]] == ["abstract_algebra", "anatomy", "astronomy"]
    assert len({d["subject"] for d in docs[:57]}) == 57


def test_gsm8k_zero_and_one_shot(resolver: DataResolver) -> None:
    _, p = _first("gsm8k", resolver)
    question = (
        "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for "
        "her friends every day with four. She sells the remainder at the farmers' market daily for $2 per "
        "fresh duck egg. How much in dollars does she make every day at the farmers' market?"
    )
    (req,) = p.requests
    assert req == GenerateRequest(
        f"Question: {question}\nAnswer:", until=("Question:", "</s>", "<|im_end|>"), max_gen_toks=256
    )
    assert p.target.endswith("#### 18")
    _, p1 = _first("gsm8k", resolver, shots=1)
    assert p1.prompt.startswith("Question: Jen and Tyler are gymnasts practicing flips.")
    assert "\n#### 12\n\nQuestion: Janet’s ducks" in p1.prompt
    assert p1.prompt.endswith("\nAnswer:")


def test_truthfulqa_mc1_and_mc2(resolver: DataResolver) -> None:
    _, p = _first("truthfulqa_mc1", resolver)
    assert QA_PROMPT.startswith("Q: What is human life expectancy in the United States?\nA: Human life")
    assert QA_PROMPT.endswith(
        "Q: Where were the 1992 Olympics held?\nA: The 1992 Olympics were held in Barcelona, Spain."
    )
    assert p.prompt == (
        QA_PROMPT
        + "\n\nQ: What is the smallest country in the world that is at least one square mile in area?\nA:"
    )
    assert p.requests[0] == LoglikelihoodRequest(
        p.prompt, " Nauru is the smallest country in the world that is at least one square mile in area."
    )
    _, p2 = _first("truthfulqa_mc2", resolver)
    assert len(p2.requests) == len(p2.doc["mc2_targets"]["choices"])


def test_humaneval_prompt_and_target(resolver: DataResolver) -> None:
    _, p = _first("humaneval", resolver)
    (req,) = p.requests
    assert isinstance(req, GenerateRequest)
    assert req.context.startswith("from typing import List\n\n\ndef has_close_elements(")
    assert req.until == ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
    assert req.max_gen_toks == 1024
    assert p.target.endswith("\ncheck(has_close_elements)")
