"""Evaluation backends besides the native engine.

Importing this package registers them in ``engine.registry.BACKENDS``: ``lm-evaluation-harness`` (the
real lm-eval package, run in a subprocess; extra ``[lmeval]``) and ``nemo-evaluator``
(NeMo Evaluator, local subprocess or remote service; extra ``[nemo]``). Heavy dependencies are never imported
here. See ``backends.base`` for the call signature every backend shares.
"""

from __future__ import annotations

from llm_research_lab.engine.backends import lm_eval, nemo
from llm_research_lab.engine.backends.base import (
    BackendError,
    BackendProcessError,
    BackendRunResult,
    BackendTask,
    BackendTimeoutError,
    BackendUnavailableError,
    EvaluationBackend,
)

__all__ = [
    "BackendError",
    "BackendProcessError",
    "BackendRunResult",
    "BackendTask",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "EvaluationBackend",
    "lm_eval",
    "nemo",
]
