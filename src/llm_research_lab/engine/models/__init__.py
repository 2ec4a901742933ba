"""Model clients: one protocol, a typed registry of kinds, and `create_client(spec)`."""

from llm_research_lab.engine.models.base import (
    GenerationParams,
    ModelCapabilities,
    ModelClient,
    ModelSpec,
    truncate_at_stop,
)
from llm_research_lab.engine.models.errors import (
    CapabilityError,
    FailureBudgetExceeded,
    ModelClientError,
    ModelConfigError,
    ModelConnectionError,
    ModelDependencyError,
    ModelHTTPError,
    ModelRequestError,
    ModelResponseError,
    ModelTimeoutError,
)
from llm_research_lab.engine.models.registry import (
    ModelType,
    create_client,
    get_model_type,
    model_types,
    register_model_type,
)

__all__ = [
    "CapabilityError",
    "FailureBudgetExceeded",
    "GenerationParams",
    "ModelCapabilities",
    "ModelClient",
    "ModelClientError",
    "ModelConfigError",
    "ModelConnectionError",
    "ModelDependencyError",
    "ModelHTTPError",
    "ModelRequestError",
    "ModelResponseError",
    "ModelSpec",
    "ModelTimeoutError",
    "ModelType",
    "create_client",
    "get_model_type",
    "model_types",
    "register_model_type",
    "truncate_at_stop",
]
