"""Model type registry, create_client, and the scripted mock client."""

from __future__ import annotations

import pytest

from llm_research_lab.engine.models import (
    ModelCapabilities,
    ModelConfigError,
    ModelSpec,
    create_client,
    model_types,
)
from llm_research_lab.engine.models.mock import MockClient
from llm_research_lab.engine.models.openai import OpenAICompatibleClient
from llm_research_lab.engine.types import GenerateRequest, LoglikelihoodRequest


def test_builtin_model_types_are_registered() -> None:
    names = set(model_types())
    assert {
        "openai-compatible",
        "vllm",
        "openai",
        "anthropic",
        "google",
        "ollama",
        "mock",
        "huggingface",
    } <= names


def test_unknown_model_type_suggests_a_close_match() -> None:
    with pytest.raises(ModelConfigError, match=r"unknown model_type 'antropic'; did you mean 'anthropic'\?"):
        create_client(ModelSpec("antropic", "x"))


def test_huggingface_refuses_hub_names_offline() -> None:
    # A hub id would need a download; the local type only loads files on this machine.
    with pytest.raises(ModelConfigError, match=r"runs local files only \(offline\); 'gpt2'"):
        create_client(ModelSpec("huggingface", "gpt2"))


async def test_openai_type_defaults() -> None:
    client = create_client(ModelSpec("openai", "gpt-4o-mini"), environ={"OPENAI_API_KEY": "sk-x"})
    try:
        assert isinstance(client, OpenAICompatibleClient)
        assert client.base_url == "https://api.openai.com"
        caps = client.capabilities
        assert not caps.supports_logprobs and caps.supports_chat and caps.max_stop_sequences == 4
    finally:
        await client.aclose()
    with pytest.raises(ModelConfigError, match="OPENAI_API_KEY"):
        create_client(ModelSpec("openai", "gpt-4o-mini"), environ={})


async def test_vllm_and_ollama_defaults_and_stored_capabilities() -> None:
    vllm = create_client(ModelSpec("vllm", "m"))
    ollama = create_client(ModelSpec("ollama", "llama3"))
    stored = ModelCapabilities(supports_logprobs=False, supports_chat=True, max_concurrency=3, probed=True)
    probed = create_client(ModelSpec("openai-compatible", "m", base_url="http://h:1/v1", capabilities=stored))
    try:
        assert isinstance(vllm, OpenAICompatibleClient) and isinstance(ollama, OpenAICompatibleClient)
        assert vllm.base_url == "http://127.0.0.1:8000" and vllm.capabilities.supports_tokenize
        assert ollama.base_url == "http://127.0.0.1:11434" and not ollama.capabilities.supports_logprobs
        assert probed.capabilities == stored
        assert isinstance(probed, OpenAICompatibleClient) and probed.guard.limiter.maximum == 3
    finally:
        for c in (vllm, ollama, probed):
            await c.aclose()


async def test_mock_client_from_spec_is_deterministic() -> None:
    spec = ModelSpec(
        "mock",
        "demo",
        options={
            "answers": {"6*7": "42\nbecause"},
            "logprobs": [{"context": "Q:", "continuation": " yes", "logprob": -0.25}],
        },
    )
    a, b = create_client(spec), create_client(spec)
    assert isinstance(a, MockClient)
    gen = await a.generate(GenerateRequest("What is 6*7?", until=("\n",)))
    assert gen.text == "42"
    scripted = await a.loglikelihood(LoglikelihoodRequest("Q:", " yes"))
    assert scripted.logprob == -0.25 and not scripted.is_greedy
    free_a = await a.loglikelihood(LoglikelihoodRequest("Q:", " no"))
    free_b = await b.loglikelihood(LoglikelihoodRequest("Q:", " no"))
    assert free_a == free_b and -10.0 < free_a.logprob <= 0.0
    guess_a = await a.generate(GenerateRequest("unscripted question"))
    guess_b = await b.generate(GenerateRequest("unscripted question"))
    assert guess_a.text == guess_b.text and guess_a.text in "ABCD"


async def test_mock_client_callable_script_and_chat_only_mode() -> None:
    client = MockClient(generate=lambda r: r.context.upper(), supports_logprobs=False)
    assert (await client.generate(GenerateRequest("abc"))).text == "ABC"
    assert not client.capabilities.supports_logprobs
    from llm_research_lab.engine.models import CapabilityError

    with pytest.raises(CapabilityError):
        await client.loglikelihood(LoglikelihoodRequest("a", "b"))


def test_bad_mock_options_are_config_errors() -> None:
    with pytest.raises(ModelConfigError, match="logprobs"):
        create_client(ModelSpec("mock", "x", options={"logprobs": [{"context": "a"}]}))
