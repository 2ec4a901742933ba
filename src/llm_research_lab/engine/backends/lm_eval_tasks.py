"""Offline lm-evaluation-harness task configs, generated from the catalog's benchmark data.

Each supported benchmark becomes a small YAML in a temporary ``include_path`` directory that
``include:``s lm-eval's own task file (absolute path into the installed ``lm_eval/tasks``), so prompt
formats, filters and metrics are exactly lm-eval's, and overrides only where the data comes from::

    task: arc_easy
    include: /.../site-packages/lm_eval/tasks/arc/arc_easy.yaml
    dataset_path: json
    dataset_name: null
    dataset_kwargs: {data_files: {train: /abs/arc-easy_train.jsonl.gz, test: /abs/...}}

Paths are absolute (relative ones resolve against the process's working directory). Splits the data
lacks are set to null; a benchmark without a train split takes few-shot examples from its evaluation
split, the evaluated document excluded (lm-eval's own rule for that case, and the native engine's).
Two benchmarks need more than an override:
- ``hellaswag``: the shipped rows are already preprocessed (``query``/``choices``/``label``), which
  lm-eval's ``process_docs`` cannot take, so the task is written out with the same templates and
  without ``process_docs``; hub-shaped rows (``ctx_a``...) include lm-eval's file unchanged.
- MMLU: the data is one file for all subjects; each ``mmlu_<subject>`` gets its rows filtered into
  its own files, and ``mmlu`` is a group over the 57 subjects weighted by size, as lm-eval's.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from llm_research_lab.catalog.errors import BenchmarkDataNotFoundError
from llm_research_lab.catalog.resolver import DataResolver, iter_rows
from llm_research_lab.engine.backends.base import BackendError, BackendUnavailableError
from llm_research_lab.engine.benchmarks.mmlu import MMLU_SUBJECTS

RequestKind = Literal["loglikelihood", "generate_until"]


@dataclass(frozen=True, slots=True)
class TaskDef:
    """How one benchmark maps onto an lm-eval task file and our data."""

    yaml: str  # relative to lm_eval/tasks
    eval_split: str
    # lm-eval split key -> our split name, for every split the task file names.
    splits: Mapping[str, str]
    request_type: RequestKind
    default_num_fewshot: int = 0
    # The few-shot sampler is first_n (shots do not depend on which docs run; resume can subset).
    first_n_fewshot: bool = False
    data_id: str | None = None  # resolver id when it differs from the benchmark id


_ARC_SPLITS = {"training_split": "train", "validation_split": "validation", "test_split": "test"}
_VALIDATION_ONLY = {"training_split": "train", "validation_split": "validation"}

TASKS: dict[str, TaskDef] = {
    "arc_easy": TaskDef("arc/arc_easy.yaml", "test", _ARC_SPLITS, "loglikelihood"),
    "arc_challenge": TaskDef("arc/arc_challenge.yaml", "test", _ARC_SPLITS, "loglikelihood"),
    "hellaswag": TaskDef("hellaswag/hellaswag.yaml", "validation", _VALIDATION_ONLY, "loglikelihood"),
    "winogrande": TaskDef("winogrande/default.yaml", "validation", _VALIDATION_ONLY, "loglikelihood"),
    "piqa": TaskDef("piqa/piqa.yaml", "validation", _VALIDATION_ONLY, "loglikelihood"),
    "gsm8k": TaskDef(
        "gsm8k/gsm8k.yaml",
        "test",
        {"training_split": "train", "fewshot_split": "train", "test_split": "test"},
        "generate_until",
        default_num_fewshot=5,
    ),
    "truthfulqa_mc1": TaskDef(
        "truthfulqa/truthfulqa_mc1.yaml", "validation", {"validation_split": "validation"}, "loglikelihood"
    ),
    "truthfulqa_mc2": TaskDef(
        "truthfulqa/truthfulqa_mc2.yaml", "validation", {"validation_split": "validation"}, "loglikelihood"
    ),
}
for _subject in MMLU_SUBJECTS:
    TASKS[f"mmlu_{_subject}"] = TaskDef(
        f"mmlu/default/mmlu_{_subject}.yaml",
        "test",
        {"test_split": "test", "fewshot_split": "dev"},
        "loglikelihood",
        first_n_fewshot=True,
        data_id="mmlu",
    )
MMLU_GROUP = TaskDef(
    "mmlu/default/_mmlu.yaml", "test", {}, "loglikelihood", first_n_fewshot=True, data_id="mmlu"
)

#: lm-eval tasks that cannot run offline, and why (the catalog lists them; users get this reason).
OFFLINE_BLOCKERS: dict[str, str] = {
    "humaneval": (
        "lm-eval's humaneval scores with evaluate.load('code_eval'), which downloads the metric from "
        "the Hugging Face hub and executes model code without a sandbox; use the native backend "
        "(sandboxed execution)"
    ),
    "humaneval_plus": "lm-eval's humaneval_plus needs evaluate.load('code_eval') from the hub",
    "mbpp": "lm-eval's mbpp needs evaluate.load('code_eval') from the hub",
}


def lm_eval_tasks_dir() -> Path:
    """lm-eval's built-in task directory, found without importing lm_eval (a slow import)."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            "the lm-evaluation-harness backend needs the lm-eval package; "
            "install it with: pip install 'llm-research-lab[lmeval]'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "tasks"


@dataclass(slots=True)
class PreparedTasks:
    """What was written for one benchmark run."""

    task_name: str  # the name lm-eval is asked to run (a task or a group)
    task_def: TaskDef
    include_path: Path
    # Leaf task name -> number of rows in its evaluation split (docs, before any limit).
    leaf_docs: dict[str, int] = field(default_factory=dict)
    data_files: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        return len(self.leaf_docs) > 1 or self.task_name not in self.leaf_docs

    def leaf_offsets(self) -> dict[str, int]:
        """Ledger doc-id offset of each leaf: leaves in sorted order, ids consecutive across them."""
        offsets: dict[str, int] = {}
        pos = 0
        for name in sorted(self.leaf_docs):
            offsets[name] = pos
            pos += self.leaf_docs[name]
        return offsets


def task_def(benchmark_id: str) -> TaskDef:
    if benchmark_id == "mmlu":
        return MMLU_GROUP
    found = TASKS.get(benchmark_id)
    if found is not None:
        return found
    if benchmark_id in OFFLINE_BLOCKERS:
        raise BackendUnavailableError(f"{benchmark_id}: {OFFLINE_BLOCKERS[benchmark_id]}")
    raise BackendUnavailableError(
        f"{benchmark_id}: no offline data for this lm-eval task (its built-in config downloads the "
        "dataset from the Hugging Face hub, which offline mode forbids); supported offline: "
        + ", ".join(sorted(["mmlu", *(t for t in TASKS if not t.startswith("mmlu_"))]))
        + ", mmlu_<subject>; or set config allow_hub: true on a machine with hub access"
    )


def _count_rows(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def _first_row(path: Path) -> dict[str, Any]:
    for row in iter_rows(path):
        return row
    raise BackendError(f"{path} has no rows")


def _write_yaml(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True), encoding="utf-8")


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _resolve(resolver: DataResolver, data_id: str, split: str, *, required: bool) -> Path | None:
    try:
        return resolver.resolve(data_id, split).resolve()
    except BenchmarkDataNotFoundError as exc:
        if required:
            raise BackendUnavailableError(f"no data for lm-eval: {exc}") from exc
        return None


def _split_overrides(td: TaskDef, files: Mapping[str, Path | None]) -> tuple[dict[str, Any], dict[str, str]]:
    """(split keys for the YAML, data_files) given which of our splits resolved."""
    keys: dict[str, Any] = {}
    data_files: dict[str, str] = {}
    for key, split in td.splits.items():
        path = files.get(split)
        if path is None:
            keys[key] = None
        else:
            keys[key] = split
            data_files[split] = str(path)
    if keys.get("training_split", "x") is None and "fewshot_split" not in td.splits:
        # No train split here: shots come from the evaluation split, the evaluated doc excluded.
        keys["fewshot_split"] = td.eval_split
    return keys, data_files


def prepare_tasks(benchmark_id: str, resolver: DataResolver, dest: Path) -> PreparedTasks:
    """Write the task YAML(s) (and per-subject data files for MMLU) for `benchmark_id` into `dest`."""
    td = task_def(benchmark_id)
    tasks_dir = lm_eval_tasks_dir()
    dest.mkdir(parents=True, exist_ok=True)
    if benchmark_id == "mmlu" or benchmark_id.startswith("mmlu_"):
        return _prepare_mmlu(benchmark_id, td, resolver, dest, tasks_dir)
    data_id = td.data_id or benchmark_id
    files = {
        split: _resolve(resolver, data_id, split, required=split == td.eval_split)
        for split in set(td.splits.values())
    }
    keys, data_files = _split_overrides(td, files)
    eval_path = files[td.eval_split]
    assert eval_path is not None
    config: dict[str, Any] = {"task": benchmark_id}
    if benchmark_id == "hellaswag" and "ctx_a" not in _first_row(eval_path):
        config.update(_hellaswag_preprocessed())
    else:
        config["include"] = str(tasks_dir / td.yaml)
    config.update(
        {
            "dataset_path": "json",
            "dataset_name": None,
            "dataset_kwargs": {"data_files": data_files},
            **keys,
        }
    )
    _write_yaml(dest / f"{benchmark_id}.yaml", config)
    prepared = PreparedTasks(benchmark_id, td, dest, {benchmark_id: _count_rows(eval_path)})
    prepared.data_files[benchmark_id] = data_files
    return prepared


def _hellaswag_preprocessed() -> dict[str, Any]:
    """lm_eval/tasks/hellaswag/hellaswag.yaml for rows that are already preprocessed."""
    return {
        "tag": ["multiple_choice"],
        "output_type": "multiple_choice",
        "test_split": None,
        "doc_to_text": "{{query}}",
        "doc_to_target": "{{label}}",
        "doc_to_choice": "choices",
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
        "metadata": {"version": 1.0},
    }


def _prepare_mmlu(
    benchmark_id: str, td: TaskDef, resolver: DataResolver, dest: Path, tasks_dir: Path
) -> PreparedTasks:
    test = _resolve(resolver, "mmlu", "test", required=True)
    dev = _resolve(resolver, "mmlu", "dev", required=False)
    assert test is not None
    subjects = sorted(MMLU_SUBJECTS) if benchmark_id == "mmlu" else [benchmark_id.removeprefix("mmlu_")]
    wanted = set(subjects)
    by_subject: dict[str, dict[str, list[dict[str, Any]]]] = {s: {"test": [], "dev": []} for s in subjects}
    for split, path in (("test", test), ("dev", dev)):
        if path is None:
            continue
        for row in iter_rows(path):
            subject = str(row.get("subject"))
            if subject in wanted:
                by_subject[subject][split].append(row)
    data_dir = dest / "data"
    data_dir.mkdir(exist_ok=True)
    prepared = PreparedTasks(benchmark_id, td, dest)
    for subject in subjects:
        name = f"mmlu_{subject}"
        data_files: dict[str, str] = {}
        for split, rows in by_subject[subject].items():
            if rows:
                path = data_dir / f"{name}_{split}.jsonl"
                _write_jsonl(path, rows)
                data_files[split] = str(path)
        if "test" not in data_files:
            raise BackendUnavailableError(f"{name}: the MMLU test data has no rows for {subject!r}")
        config: dict[str, Any] = {
            "task": name,
            "include": str(tasks_dir / TASKS[name].yaml),
            "dataset_path": "json",
            "dataset_name": None,
            "dataset_kwargs": {"data_files": data_files},
            "test_split": "test",
            "fewshot_split": "dev" if "dev" in data_files else None,
        }
        _write_yaml(dest / f"{name}.yaml", config)
        prepared.leaf_docs[name] = len(by_subject[subject]["test"])
        prepared.data_files[name] = data_files
    if benchmark_id == "mmlu":
        _write_yaml(
            dest / "_mmlu_group.yaml",
            {
                "group": "mmlu",
                "task": [f"mmlu_{s}" for s in subjects],
                "aggregate_metric_list": [{"metric": "acc", "weight_by_size": True}],
                "metadata": {"version": 2},
            },
        )
    return prepared
