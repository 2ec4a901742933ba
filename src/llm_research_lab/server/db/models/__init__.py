"""All ORM models; importing this package registers every table on Base.metadata."""

from llm_research_lab.server.db.models.auth import ApiKey, RefreshToken, RevokedAccessToken
from llm_research_lab.server.db.models.core import (
    Evaluation,
    EvaluationMetric,
    Experiment,
    ExperimentCollaborator,
    ExperimentTag,
    LLMModel,
    PromptTemplate,
    Run,
    User,
)
from llm_research_lab.server.db.models.datasets import (
    Dataset,
    DatasetTag,
    DatasetUpload,
    DatasetVersion,
)
from llm_research_lab.server.db.models.jobs import EvalRequest, Job, LedgerSample

__all__ = [
    "ApiKey",
    "Dataset",
    "DatasetTag",
    "DatasetUpload",
    "DatasetVersion",
    "EvalRequest",
    "Evaluation",
    "EvaluationMetric",
    "Experiment",
    "ExperimentCollaborator",
    "ExperimentTag",
    "Job",
    "LLMModel",
    "LedgerSample",
    "PromptTemplate",
    "RefreshToken",
    "RevokedAccessToken",
    "Run",
    "User",
]
