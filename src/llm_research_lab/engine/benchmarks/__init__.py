"""Native benchmarks with lm-evaluation-harness 0.4.x prompt formats, few-shot sampling and metrics.

Importing this package registers the built-ins in ``engine.registry.BENCHMARKS``: arc_easy,
arc_challenge, hellaswag, winogrande, piqa, mmlu and mmlu_<subject> (57), gsm8k, truthfulqa_mc1,
truthfulqa_mc2, humaneval. ``CustomDatasetBenchmark`` serves Research Lab datasets + prompt templates.
"""

from __future__ import annotations

from llm_research_lab.engine.benchmarks import gsm8k, humaneval, mmlu, tasks_mc, truthfulqa
from llm_research_lab.engine.benchmarks.base import (
    Benchmark,
    BenchmarkError,
    DataSource,
    Doc,
    InMemorySource,
    Method,
    PreparedDoc,
    RandomFewshotSampler,
    prepare_docs,
)
from llm_research_lab.engine.benchmarks.custom import (
    CustomDatasetBenchmark,
    CustomDatasetSpec,
    render_template,
)
from llm_research_lab.engine.benchmarks.multiple_choice import MultipleChoiceBenchmark

__all__ = [
    "Benchmark",
    "BenchmarkError",
    "CustomDatasetBenchmark",
    "CustomDatasetSpec",
    "DataSource",
    "Doc",
    "InMemorySource",
    "Method",
    "MultipleChoiceBenchmark",
    "PreparedDoc",
    "RandomFewshotSampler",
    "gsm8k",
    "humaneval",
    "mmlu",
    "prepare_docs",
    "render_template",
    "tasks_mc",
    "truthfulqa",
]
