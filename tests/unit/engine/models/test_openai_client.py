"""OpenAI-compatible client against the loopback fake server, over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from llm_research_lab.engine.concurrency import AIMDLimiter, EndpointGuard, FailureBudget, RetryPolicy
from llm_research_lab.engine.models import (
    CapabilityError,
    FailureBudgetExceeded,
    GenerationParams,
    ModelConfigError,
    ModelConnectionError,
    ModelHTTPError,
    ModelSpec,
    ModelTimeoutError,
)
from llm_research_lab.engine.models.openai import (
    OpenAICompatibleClient,
    continuation_logprob,
    normalise_base_url,
)
from llm_research_lab.engine.types import GenerateRequest, LoglikelihoodRequest
from tests.fakes.openai_server import Fault, GenRule, LLRule, Script, running_openai_server

FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


def make_client(
    base_url: str,
    *,
    policy: RetryPolicy = FAST,
    budget: FailureBudget | None = None,
    limiter: AIMDLimiter | None = None,
    **spec_fields: object,
) -> OpenAICompatibleClient:
    spec = ModelSpec(
        model_type="openai-compatible", model_name="fake-model", base_url=base_url, **spec_fields
    )  # type: ignore[arg-type]
    guard = EndpointGuard(base_url, limiter or AIMDLimiter(4, 8), policy, budget or FailureBudget(base_url))
    return OpenAICompatibleClient(spec, guard=guard)


@pytest.fixture
def script() -> Script:
    return Script(
        ll_rules=[
            LLRule("Capital of France", " Paris", -0.5, greedy=True),
            LLRule("Capital of France", " Lyon", -3.25, greedy=False),
            LLRule("Largest city", " New York City", -1.5, greedy=True),
            LLRule("Answer: ", "Paris", -0.75, greedy=True),
        ],
        gen_rules=[GenRule("What is 6*7", "42\n\nQuestion: what is 1+1?")],
    )


@pytest.fixture
def server(script: Script) -> Iterator[str]:
    with running_openai_server(script) as url:
        yield url


@pytest.fixture
async def client(server: str) -> AsyncIterator[OpenAICompatibleClient]:
    c = make_client(server)
    yield c
    await c.aclose()


# --------------------------------------------------------------------------- log-likelihood


async def test_loglikelihood_sums_scripted_continuation_logprobs(
    client: OpenAICompatibleClient, script: Script
) -> None:
    paris = await client.loglikelihood(LoglikelihoodRequest("Q: Capital of France?\nA:", " Paris"))
    lyon = await client.loglikelihood(LoglikelihoodRequest("Q: Capital of France?\nA:", " Lyon"))
    nyc = await client.loglikelihood(LoglikelihoodRequest("Q: Largest city in the US?\nA:", " New York City"))
    assert paris.logprob == -0.5 and paris.is_greedy and paris.tokens == 1
    assert lyon.logprob == -3.25 and not lyon.is_greedy
    # three tokens of -0.5 each
    assert nyc.logprob == -1.5 and nyc.is_greedy and nyc.tokens == 3
    body = script.bodies("/v1/completions")[0]
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 0
    assert body["prompt"] == "Q: Capital of France?\nA: Paris"


async def test_token_straddling_the_boundary_counts_as_continuation(client: OpenAICompatibleClient) -> None:
    # Tokens are " Paris"-style: with the space in the context the token straddles the boundary.
    res = await client.loglikelihood(LoglikelihoodRequest("Answer: ", "Paris"))
    assert res.logprob == -0.75
    assert res.tokens == 1 and res.is_greedy


async def test_batched_loglikelihood_uses_one_request(server: str, script: Script) -> None:
    client = make_client(server, batch_size=8)
    reqs = [
        LoglikelihoodRequest("Q: Capital of France?\nA:", " Paris"),
        LoglikelihoodRequest("Q: Capital of France?\nA:", " Lyon"),
        LoglikelihoodRequest("Q: Largest city?\nA:", " New York City"),
    ]
    try:
        out = await client.loglikelihood_many(reqs)
    finally:
        await client.aclose()
    assert [r.logprob for r in out] == [-0.5, -3.25, -1.5]
    assert script.count("/v1/completions") == 1
    assert len(script.bodies("/v1/completions")[0]["prompt"]) == 3


async def test_batching_falls_back_to_single_prompts_when_lists_are_refused() -> None:
    script = Script(
        ll_rules=[LLRule("Q1", " a", -1.0, True), LLRule("Q2", " b", -2.0)], accept_prompt_lists=False
    )
    with running_openai_server(script) as url:
        client = make_client(url, batch_size=4)
        try:
            first = await client.loglikelihood_many(
                [LoglikelihoodRequest("Q1", " a"), LoglikelihoodRequest("Q2", " b")]
            )
            second = await client.loglikelihood_many(
                [LoglikelihoodRequest("Q1", " a"), LoglikelihoodRequest("Q2", " b")]
            )
        finally:
            await client.aclose()
    assert [r.logprob for r in first] == [-1.0, -2.0] == [r.logprob for r in second]
    # 1 refused list + 2 singles, then 2 singles: the client stopped sending lists.
    assert script.count("/v1/completions") == 5


def test_continuation_extraction_ignores_generated_tokens_and_uses_offsets() -> None:
    # Server that insisted on max_tokens=1: the last token starts after the prompt.
    logprobs = {
        "tokens": ["The", " sky", " is", " blue", " today"],
        "token_logprobs": [None, -1.0, -0.5, -0.25, -9.0],
        "top_logprobs": [None, {" sky": -1.0}, {" was": -0.1}, {" blue": -0.25}, {" today": -9.0}],
        "text_offset": [0, 3, 7, 10, 15],
    }
    prompt = "The sky is blue"
    res = continuation_logprob(logprobs, context_len=len("The sky"), prompt_len=len(prompt))
    assert res.logprob == -0.75
    assert res.tokens == 2 and res.prompt_tokens == 4
    assert res.is_greedy is False  # " is" was not the top token


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://h:8000", "http://h:8000"),
        ("http://h:8000/", "http://h:8000"),
        ("http://h:8000/v1", "http://h:8000"),
        ("http://h:8000/v1/", "http://h:8000"),
    ],
)
def test_base_url_normalisation(given: str, root: str) -> None:
    assert normalise_base_url(given) == root


async def test_base_url_with_v1_suffix_works(server: str) -> None:
    client = make_client(server + "/v1/")
    try:
        res = await client.loglikelihood(LoglikelihoodRequest("Capital of France:", " Paris"))
    finally:
        await client.aclose()
    assert res.logprob == -0.5


# --------------------------------------------------------------------------- generation


async def test_chat_generation_with_stop_sequences(client: OpenAICompatibleClient, script: Script) -> None:
    res = await client.generate(
        GenerateRequest("Q: What is 6*7?\nA:", until=("\n\n", "Question:"), max_gen_toks=32)
    )
    assert res.text == "42"
    assert res.completion_tokens == 1 and res.prompt_tokens > 0
    body = script.bodies("/v1/chat/completions")[0]
    assert body["stop"] == ["\n\n", "Question:"]
    assert body["max_tokens"] == 32 and body["temperature"] == 0.0
    assert body["messages"] == [{"role": "user", "content": "Q: What is 6*7?\nA:"}]


async def test_stop_sequences_are_applied_client_side_too() -> None:
    script = Script(gen_rules=[GenRule("6*7", "42\n\nmore text")], honour_stop=False)
    with running_openai_server(script) as url:
        client = make_client(url, generation_endpoint="completions")
        try:
            res = await client.generate(GenerateRequest("What is 6*7?", until=("\n\n",)))
        finally:
            await client.aclose()
    assert res.text == "42"
    assert script.count("/v1/completions") == 1 and script.count("/v1/chat/completions") == 0


async def test_model_level_generation_params_override_request(server: str, script: Script) -> None:
    client = make_client(server, generation=GenerationParams(max_tokens=5, temperature=0.7, top_p=0.9))
    try:
        await client.generate(GenerateRequest("hello", max_gen_toks=100))
    finally:
        await client.aclose()
    body = script.bodies("/v1/chat/completions")[0]
    assert (body["max_tokens"], body["temperature"], body["top_p"]) == (5, 0.7, 0.9)


# --------------------------------------------------------------------------- retries and faults


async def test_retries_500_then_succeeds(client: OpenAICompatibleClient, script: Script) -> None:
    script.fail_next(2, 500)
    res = await client.loglikelihood(LoglikelihoodRequest("Capital of France:", " Paris"))
    assert res.logprob == -0.5
    assert script.count("/v1/completions") == 3
    assert [r.status for r in script.requests] == [500, 500, 200]


async def test_429_retry_after_is_honoured(server: str, script: Script) -> None:
    limiter = AIMDLimiter(4, 8)
    client = make_client(server, limiter=limiter)
    script.fail_next(1, 429, retry_after="1")
    t0 = time.monotonic()
    try:
        res = await client.generate(GenerateRequest("What is 6*7?", until=("\n\n",)))
    finally:
        await client.aclose()
    elapsed = time.monotonic() - t0
    assert res.text == "42"
    assert elapsed >= 1.0
    first, second = script.requests
    assert second.received_at - first.received_at >= 1.0
    assert limiter.limit == 2  # halved on the overload signal


async def test_no_retry_on_400(client: OpenAICompatibleClient, script: Script) -> None:
    script.add_fault(Fault(status=400, times=-1, body="prompt too long"))
    with pytest.raises(ModelHTTPError) as info:
        await client.generate(GenerateRequest("x"))
    assert info.value.status == 400 and "prompt too long" in str(info.value)
    assert not info.value.fatal
    assert script.count() == 1


async def test_unknown_model_is_fatal_and_not_retried(server: str, script: Script) -> None:
    spec = ModelSpec(model_type="vllm", model_name="no-such-model", base_url=server)
    client = OpenAICompatibleClient(spec, guard=EndpointGuard(server, policy=FAST))
    try:
        with pytest.raises(ModelHTTPError) as info:
            await client.generate(GenerateRequest("x"))
    finally:
        await client.aclose()
    assert info.value.status == 404 and info.value.fatal
    assert script.count() == 1


async def test_dropped_connection_is_retried(client: OpenAICompatibleClient, script: Script) -> None:
    script.drop_next(1)
    res = await client.generate(GenerateRequest("What is 6*7?", until=("\n\n",)))
    assert res.text == "42"
    assert script.count("/v1/chat/completions") == 2
    assert script.requests[0].status == 0  # dropped: never answered


async def test_connection_refused_is_a_connection_error() -> None:
    with running_openai_server(Script()) as url:
        pass  # server gone: the port is closed now
    client = make_client(url, policy=RetryPolicy(max_attempts=2, base_delay=0.01))
    try:
        with pytest.raises(ModelConnectionError, match="connection to"):
            await client.generate(GenerateRequest("x"))
    finally:
        await client.aclose()


async def test_timeout_per_request() -> None:
    script = Script(latency_ms=2000)
    with running_openai_server(script) as url:
        client = make_client(url, policy=RetryPolicy(max_attempts=1), timeout=0.2)
        t0 = time.monotonic()
        try:
            with pytest.raises(ModelTimeoutError, match=r"within 0\.2s"):
                await client.generate(GenerateRequest("x"))
        finally:
            await client.aclose()
        assert time.monotonic() - t0 < 1.5


async def test_failure_budget_trips_with_a_clear_error(server: str, script: Script) -> None:
    script.add_fault(Fault(status=502, times=-1, body="bad gateway"))
    budget = FailureBudget(server, max_consecutive=6)
    client = make_client(server, budget=budget, policy=RetryPolicy(max_attempts=3, base_delay=0.001))
    errors: list[BaseException] = []
    try:
        for _ in range(5):
            try:
                await client.generate(GenerateRequest("x"))
            except Exception as exc:
                errors.append(exc)
    finally:
        await client.aclose()
    assert isinstance(errors[0], ModelHTTPError)  # 3 attempts, then this request gave up
    assert isinstance(errors[1], FailureBudgetExceeded)  # attempts 4-6 tripped the budget
    assert all(isinstance(e, FailureBudgetExceeded) for e in errors[1:])
    message = str(errors[-1])
    assert server in message and "6 consecutive failed requests" in message and "HTTP 502" in message
    assert script.count() == 6  # after tripping, calls fail fast without touching the endpoint


# --------------------------------------------------------------------------- probe and capabilities


async def test_probe_full_server(client: OpenAICompatibleClient) -> None:
    caps = await client.probe()
    assert caps.probed and caps.supports_logprobs and caps.supports_completions
    assert caps.supports_chat and caps.supports_tokenize and caps.supports_batch_prompts
    assert caps.served_models == ("fake-model",)
    assert client.capabilities == caps
    assert type(caps).from_dict(caps.to_dict()) == caps


async def test_probe_chat_only_server_and_loglikelihood_refused() -> None:
    script = Script(chat_only=True, tokenize_enabled=False)
    with running_openai_server(script) as url:
        client = make_client(url)
        try:
            caps = await client.probe()
            with pytest.raises(CapabilityError, match="does not return prompt logprobs"):
                await client.loglikelihood(LoglikelihoodRequest("a", " b"))
            res = await client.generate(GenerateRequest("hello"))
        finally:
            await client.aclose()
    assert not caps.supports_logprobs and not caps.supports_completions and not caps.supports_tokenize
    assert caps.supports_chat
    assert res.text == "fake answer"


async def test_probe_unreachable_endpoint_raises() -> None:
    with running_openai_server(Script()) as url:
        pass
    client = make_client(url)
    try:
        with pytest.raises(ModelConnectionError, match="cannot reach"):
            await client.probe()
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- auth and concurrency


async def test_api_key_read_from_named_variable_and_sent(script: Script) -> None:
    script.api_key = "sk-test-123"
    with running_openai_server(script) as url:
        spec = ModelSpec("openai-compatible", "fake-model", base_url=url, api_key_env="LAB_TEST_KEY")
        client = OpenAICompatibleClient(spec, environ={"LAB_TEST_KEY": "sk-test-123"})
        try:
            res = await client.generate(GenerateRequest("What is 6*7?", until=("\n\n",)))
        finally:
            await client.aclose()
        assert "sk-test-123" not in repr(client) and "sk-test-123" not in repr(spec)
    assert res.text == "42"
    assert script.requests[0].headers["authorization"] == "Bearer sk-test-123"


def test_missing_api_key_variable_is_a_config_error() -> None:
    spec = ModelSpec("openai-compatible", "m", base_url="http://127.0.0.1:9", api_key_env="LAB_NOPE")
    with pytest.raises(ModelConfigError, match="LAB_NOPE is not set"):
        OpenAICompatibleClient(spec, environ={})


async def test_concurrent_requests_are_bounded_by_the_limiter() -> None:
    script = Script(latency_ms=50)
    with running_openai_server(script) as url:
        limiter = AIMDLimiter(initial=3, maximum=3)
        client = make_client(url, limiter=limiter)
        peak = 0

        async def one() -> None:
            nonlocal peak
            task = asyncio.create_task(client.generate(GenerateRequest("x")))
            while not task.done():
                peak = max(peak, limiter.in_flight)
                await asyncio.sleep(0.005)
            await task

        try:
            await asyncio.gather(*(one() for _ in range(9)))
        finally:
            await client.aclose()
    assert peak == 3
    assert script.count() == 9
