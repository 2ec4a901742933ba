"""Anthropic and Google clients against small loopback fakes of their wire formats."""

from __future__ import annotations

import pytest

from llm_research_lab.engine.concurrency import EndpointGuard, RetryPolicy
from llm_research_lab.engine.models import CapabilityError, ModelHTTPError, ModelSpec, create_client
from llm_research_lab.engine.models.anthropic import AnthropicClient
from llm_research_lab.engine.models.google import GoogleClient
from llm_research_lab.engine.types import GenerateRequest, LoglikelihoodRequest
from tests.fakes.openai_server import FakeReply, FakeRequest, Fault, Script, running_openai_server

FAST = RetryPolicy(max_attempts=3, base_delay=0.01)


def anthropic_messages(req: FakeRequest) -> FakeReply:
    if req.headers.get("x-api-key") != "ak-123" or req.headers.get("anthropic-version") != "2023-06-01":
        return FakeReply(
            401, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}
        )
    body = req.json
    for stop in body.get("stop_sequences", []):
        if not stop.strip():  # the real API refuses whitespace-only stop sequences
            return FakeReply(
                400, {"type": "error", "error": {"type": "invalid_request_error", "message": "stop"}}
            )
    return FakeReply(
        200,
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "The answer is 42.\n\nNext question"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 11, "output_tokens": 7},
        },
    )


async def test_anthropic_messages_wire_format() -> None:
    script = Script(routes={("POST", "/v1/messages"): anthropic_messages})
    with running_openai_server(script) as url:
        spec = ModelSpec("anthropic", "claude-test", base_url=url, api_key_env="ANTHROPIC_API_KEY")
        client = create_client(spec, environ={"ANTHROPIC_API_KEY": "ak-123"})
        assert isinstance(client, AnthropicClient)
        try:
            res = await client.generate(
                GenerateRequest(
                    "ignored",
                    until=("\n\n", "Question:"),
                    max_gen_toks=64,
                    messages=(("system", "Be brief."), ("user", "What is 6*7?")),
                )
            )
            with pytest.raises(CapabilityError):
                await client.loglikelihood(LoglikelihoodRequest("a", " b"))
        finally:
            await client.aclose()
    assert res.text == "The answer is 42."  # "\n\n" applied client-side
    assert (res.prompt_tokens, res.completion_tokens) == (11, 7)
    body = script.requests[0].json
    assert body["model"] == "claude-test" and body["max_tokens"] == 64
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "What is 6*7?"}]
    assert body["stop_sequences"] == ["Question:"]
    assert not client.capabilities.supports_logprobs


async def test_anthropic_overloaded_529_is_retried() -> None:
    script = Script(routes={("POST", "/v1/messages"): anthropic_messages})
    script.add_fault(Fault(status=529, path="/v1/messages", times=1))
    with running_openai_server(script) as url:
        spec = ModelSpec("anthropic", "claude-test", base_url=url + "/v1", api_key_env="K")
        client = AnthropicClient(spec, environ={"K": "ak-123"}, guard=EndpointGuard(url, policy=FAST))
        try:
            res = await client.generate(GenerateRequest("hi"))
        finally:
            await client.aclose()
    assert res.text.startswith("The answer is 42.")
    assert [r.status for r in script.requests] == [529, 200]
    assert client.guard.limiter.decreases == 1


async def test_anthropic_bad_key_is_fatal_and_not_retried() -> None:
    script = Script(routes={("POST", "/v1/messages"): anthropic_messages})
    with running_openai_server(script) as url:
        spec = ModelSpec("anthropic", "claude-test", base_url=url, api_key_env="K")
        client = AnthropicClient(spec, environ={"K": "wrong"}, guard=EndpointGuard(url, policy=FAST))
        try:
            with pytest.raises(ModelHTTPError) as info:
                await client.generate(GenerateRequest("hi"))
        finally:
            await client.aclose()
    assert info.value.status == 401 and info.value.fatal
    assert "wrong" not in str(info.value)
    assert script.count() == 1


GEMINI_PATH = "/v1beta/models/gemini-test:generateContent"


def gemini(req: FakeRequest) -> FakeReply:
    key = req.headers.get("x-goog-api-key") or (req.query.get("key") or [None])[0]
    if key != "gk-1":
        return FakeReply(
            403, {"error": {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}}
        )
    return FakeReply(
        200,
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "Paris"}, {"text": " is the capital.\nMore"}],
                    }
                }
            ],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 6, "totalTokenCount": 11},
        },
    )


async def test_google_generate_content_wire_format() -> None:
    script = Script(routes={("POST", GEMINI_PATH): gemini})
    with running_openai_server(script) as url:
        spec = ModelSpec("google", "models/gemini-test", base_url=url, api_key_env="GOOGLE_API_KEY")
        client = create_client(spec, environ={"GOOGLE_API_KEY": "gk-1"})
        assert isinstance(client, GoogleClient)
        try:
            res = await client.generate(
                GenerateRequest(
                    "",
                    until=("\n", "###", "Q:", "A:", "END", "STOP"),
                    max_gen_toks=20,
                    temperature=0.0,
                    messages=(
                        ("system", "Answer briefly."),
                        ("user", "Capital?"),
                        ("assistant", "Which"),
                        ("user", "France"),
                    ),
                )
            )
        finally:
            await client.aclose()
    assert res.text == "Paris is the capital."
    assert (res.prompt_tokens, res.completion_tokens) == (5, 6)
    req = script.requests[0]
    assert req.path == GEMINI_PATH and "key" not in req.query  # the key travels in a header
    body = req.json
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Capital?"}]},
        {"role": "model", "parts": [{"text": "Which"}]},
        {"role": "user", "parts": [{"text": "France"}]},
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "Answer briefly."}]}
    assert body["generationConfig"] == {
        "maxOutputTokens": 20,
        "temperature": 0.0,
        "stopSequences": ["\n", "###", "Q:", "A:", "END"],  # the API takes at most 5
    }


async def test_google_blocked_prompt_gives_empty_text() -> None:
    script = Script(
        routes={
            ("POST", GEMINI_PATH): lambda r: FakeReply(200, {"promptFeedback": {"blockReason": "SAFETY"}})
        }
    )
    with running_openai_server(script) as url:
        client = GoogleClient(ModelSpec("google", "gemini-test", base_url=url))
        try:
            res = await client.generate(GenerateRequest("x"))
        finally:
            await client.aclose()
    assert res.text == "" and script.count() == 1
