"""Typed registry of model client kinds, keyed by the `model_type` string of a ModelSpec.

Built-in kinds are registered here; third parties add more through the
`llm_research_lab.model_clients` entry-point group (an entry point names a
`Callable[[ModelSpec], ModelClient]`).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from llm_research_lab.engine.models.base import ModelClient, ModelSpec
from llm_research_lab.engine.models.errors import ModelConfigError, ModelDependencyError

ClientFactory = Callable[[ModelSpec, Mapping[str, str] | None], ModelClient]
ENTRY_POINT_GROUP = "llm_research_lab.model_clients"


@dataclass(frozen=True, slots=True)
class ModelType:
    name: str
    factory: ClientFactory
    description: str
    default_base_url: str | None = None
    default_api_key_env: str | None = None


_REGISTRY: dict[str, ModelType] = {}


def register_model_type(
    name: str,
    *,
    description: str,
    default_base_url: str | None = None,
    default_api_key_env: str | None = None,
) -> Callable[[ClientFactory], ClientFactory]:
    """Decorator: `@register_model_type("my-api", description=...) def make(spec, environ): ...`"""

    def decorate(factory: ClientFactory) -> ClientFactory:
        if name in _REGISTRY:
            raise ValueError(f"model type {name!r} is already registered")
        _REGISTRY[name] = ModelType(name, factory, description, default_base_url, default_api_key_env)
        return factory

    return decorate


def model_types() -> dict[str, ModelType]:
    _load_entry_points()
    return dict(_REGISTRY)


def get_model_type(name: str) -> ModelType:
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(_REGISTRY))
        raise ModelConfigError(f"unknown model_type {name!r}{hint} (known: {known})") from None


def create_client(spec: ModelSpec, *, environ: Mapping[str, str] | None = None) -> ModelClient:
    """Build the client for `spec`. The API key is read from `environ` (default os.environ) now,
    under the variable named by `spec.api_key_env` (or the type's default variable)."""
    kind = get_model_type(spec.model_type)
    if spec.api_key_env is None and kind.default_api_key_env is not None:
        spec = replace(spec, api_key_env=kind.default_api_key_env)
    if spec.base_url is None and kind.default_base_url is not None:
        spec = replace(spec, base_url=kind.default_base_url)
    return kind.factory(spec, environ)


_entry_points_loaded = False


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        factory = ep.load()
        _REGISTRY[ep.name] = ModelType(ep.name, _adapt(factory), f"plugin {ep.value}")


def _adapt(factory: Callable[[ModelSpec], ModelClient]) -> ClientFactory:
    def make(spec: ModelSpec, environ: Mapping[str, str] | None) -> ModelClient:
        return factory(spec)

    return make


# --------------------------------------------------------------------------- built-ins
# Client modules are imported inside the factories so listing model types stays cheap.


def _openai_factory(spec: ModelSpec, environ: Mapping[str, str] | None) -> ModelClient:
    from llm_research_lab.engine.models.openai import OpenAICompatibleClient

    return OpenAICompatibleClient(spec, environ=environ)


register_model_type(
    "openai-compatible",
    description="any server with the OpenAI API: /v1/completions (echo+logprobs) and /v1/chat/completions",
)(_openai_factory)
register_model_type(
    "vllm",
    description="vLLM's OpenAI-compatible server (log-likelihoods, /tokenize)",
    default_base_url="http://127.0.0.1:8000",
)(_openai_factory)
register_model_type(
    "openai",
    description="the OpenAI API (chat; at most 4 stop sequences)",
    default_base_url="https://api.openai.com",
    default_api_key_env="OPENAI_API_KEY",
)(_openai_factory)
register_model_type(
    "ollama",
    description="Ollama's OpenAI-compatible /v1 (no prompt logprobs)",
    default_base_url="http://127.0.0.1:11434",
)(_openai_factory)


@register_model_type(
    "anthropic",
    description="Anthropic Messages API (generation only)",
    default_base_url="https://api.anthropic.com",
    default_api_key_env="ANTHROPIC_API_KEY",
)
def _anthropic_factory(spec: ModelSpec, environ: Mapping[str, str] | None) -> ModelClient:
    from llm_research_lab.engine.models.anthropic import AnthropicClient

    return AnthropicClient(spec, environ=environ)


@register_model_type(
    "google",
    description="Google Gemini generateContent REST API (generation only)",
    default_base_url="https://generativelanguage.googleapis.com",
    default_api_key_env="GOOGLE_API_KEY",
)
def _google_factory(spec: ModelSpec, environ: Mapping[str, str] | None) -> ModelClient:
    from llm_research_lab.engine.models.google import GoogleClient

    return GoogleClient(spec, environ=environ)


@register_model_type("mock", description="scripted in-process model for demos and dry runs")
def _mock_factory(spec: ModelSpec, environ: Mapping[str, str] | None) -> ModelClient:
    from llm_research_lab.engine.models.mock import create_mock_client

    return create_mock_client(spec)


HUGGINGFACE_MODULE = "llm_research_lab.engine.models.huggingface"


@register_model_type("huggingface", description="local transformers model (needs llm-research-lab[local])")
def _huggingface_factory(spec: ModelSpec, environ: Mapping[str, str] | None) -> ModelClient:
    # Placeholder: the implementation lives in HUGGINGFACE_MODULE (optional extra) and must expose
    # `create_client(spec) -> ModelClient`. torch/transformers are imported only there.
    try:
        module = importlib.import_module(HUGGINGFACE_MODULE)
    except ModuleNotFoundError as exc:
        missing = exc.name or "a dependency"
        raise ModelDependencyError(
            f"model type 'huggingface' needs local inference support ({missing} is not available); "
            "install it with: pip install 'llm-research-lab[local]'"
        ) from exc
    factory = getattr(module, "create_client", None)
    if not callable(factory):
        raise ModelDependencyError(
            f"{HUGGINGFACE_MODULE} has no create_client(spec); install 'llm-research-lab[local]'"
        )
    client: ModelClient = factory(spec)
    return client
