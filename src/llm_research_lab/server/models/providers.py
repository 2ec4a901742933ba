"""The provider kinds a model can be registered with (static product data)."""

from __future__ import annotations

from llm_research_lab.schemas.models import Provider

PROVIDER_INFO: tuple[Provider, ...] = (
    Provider(
        name="openai",
        display_name="OpenAI",
        description="OpenAI GPT models including GPT-4 and GPT-3.5",
        supported_models=["gpt-4", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "gpt-3.5-turbo"],
    ),
    Provider(
        name="anthropic",
        display_name="Anthropic",
        description="Anthropic Claude models",
        supported_models=["claude-3-opus", "claude-3-sonnet", "claude-3-haiku", "claude-3-5-sonnet-20241022"],
    ),
    Provider(
        name="google",
        display_name="Google AI",
        description="Google Gemini models",
        supported_models=["gemini-pro", "gemini-pro-vision", "gemini-1.5-pro", "gemini-1.5-flash"],
    ),
    Provider(
        name="vllm",
        display_name="vLLM",
        description="Self-hosted models served by vLLM's OpenAI-compatible server",
        supported_models=[],
        self_hosted=True,
        requires_base_url=True,
    ),
    Provider(
        name="openai-compatible",
        display_name="OpenAI-compatible endpoint",
        description="Any server speaking the OpenAI completions/chat API (TGI, llama.cpp, LM Studio, Groq)",
        supported_models=[],
        self_hosted=True,
        requires_base_url=True,
    ),
    Provider(
        name="ollama",
        display_name="Ollama",
        description="Local models served by Ollama",
        supported_models=["llama3.1", "mistral", "qwen2.5"],
        self_hosted=True,
        requires_base_url=True,
    ),
    Provider(
        name="huggingface",
        display_name="Hugging Face (local)",
        description="Local transformers or GGUF models run in-process (extra: llm-research-lab[local])",
        supported_models=[],
        self_hosted=True,
    ),
    Provider(
        name="mock",
        display_name="Mock",
        description="Scripted in-process model for demos and dry runs",
        supported_models=["mock"],
        self_hosted=True,
    ),
)
