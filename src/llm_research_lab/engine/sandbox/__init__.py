"""Sandboxed execution of untrusted, model-generated Python, and HumanEval scoring on top of it.

Model-generated code only ever runs through :func:`run_python` / :class:`Sandbox` (design §4).
Containment needs root or unprivileged user namespaces; without them a run ends with status
``error`` instead of running the program unconfined.
"""

from llm_research_lab.engine.sandbox.humaneval import (
    HumanEvalProblem,
    estimate_pass_at_k,
    evaluate_humaneval,
    humaneval_program,
    load_humaneval,
    pass_at_k,
    score_humaneval,
)
from llm_research_lab.engine.sandbox.pool import Sandbox
from llm_research_lab.engine.sandbox.runner import SandboxLimits, SandboxResult, Status, execute, run_python

__all__ = [
    "HumanEvalProblem",
    "Sandbox",
    "SandboxLimits",
    "SandboxResult",
    "Status",
    "estimate_pass_at_k",
    "evaluate_humaneval",
    "execute",
    "humaneval_program",
    "load_humaneval",
    "pass_at_k",
    "run_python",
    "score_humaneval",
]
