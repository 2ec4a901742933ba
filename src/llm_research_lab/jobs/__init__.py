"""Evaluation jobs: the executors (``local``: an asyncio supervisor in the server process), the
sample ledger sink and the Research Lab run launcher.

The job row (``server.db.models.jobs.Job``) is the source of truth: status, progress, heartbeat,
attempts, owner. Executors claim queued rows, heartbeat while they run, and a restarted server
re-queues rows whose heartbeat went stale; the ledger makes the resumed run skip every sample it
already scored.
"""

from llm_research_lab.jobs.ledger import LedgerSink
from llm_research_lab.jobs.local import LocalExecutor, get_executor, install_executor
from llm_research_lab.jobs.spec import BenchmarkJobSpec, LabJobSpec, model_spec, probe_model

__all__ = [
    "BenchmarkJobSpec",
    "LabJobSpec",
    "LedgerSink",
    "LocalExecutor",
    "get_executor",
    "install_executor",
    "model_spec",
    "probe_model",
]
