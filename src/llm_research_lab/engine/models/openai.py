"""OpenAI-compatible endpoints: vLLM, SGLang, llama.cpp server, Ollama's /v1, OpenAI itself.

Log-likelihood works exactly like lm-evaluation-harness's `local-completions`: send
`prompt = context + continuation` to `/v1/completions` with `echo=true, logprobs=1,
max_tokens=0`, then sum the logprobs of the tokens that cover the continuation, located by
`text_offset` (so no local tokenizer is needed). `is_greedy` holds when every continuation
token was the top-1 token at its position.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from llm_research_lab.engine.concurrency import EndpointGuard
from llm_research_lab.engine.models.base import ModelCapabilities, ModelSpec, truncate_at_stop
from llm_research_lab.engine.models.errors import (
    CapabilityError,
    ModelConnectionError,
    ModelHTTPError,
    ModelRequestError,
    ModelResponseError,
)
from llm_research_lab.engine.models.http import HTTPModelClient, expect_dict, resolve_api_key
from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
)

_PROBE_TIMEOUT = 30.0
T = TypeVar("T")


def normalise_base_url(url: str) -> str:
    """Accept `http://host:8000`, `http://host:8000/`, `http://host:8000/v1` alike; return the
    root without `/v1` (vLLM serves `/tokenize` at the root, the API under `/v1`)."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


def continuation_logprob(
    logprobs: Mapping[str, Any], context_len: int, prompt_len: int
) -> LoglikelihoodResponse:
    """Sum the logprobs of the tokens covering `prompt[context_len:]`.

    A token belongs to the continuation when it ends after the context does; a token straddling
    the boundary (context "Answer: ", continuation "Paris", token " Paris") counts, otherwise such
    a continuation would get no tokens at all. Token ends come from the next token's offset, not
    from `len(token)`: byte-level BPE servers report partial UTF-8 tokens as "bytes:\\xe2...".
    Tokens starting at or after `prompt_len` were generated (servers that insist on max_tokens>=1)
    and are ignored.
    """
    tokens = logprobs.get("tokens")
    token_lps = logprobs.get("token_logprobs")
    offsets = logprobs.get("text_offset")
    if not isinstance(tokens, list) or not isinstance(token_lps, list) or not isinstance(offsets, list):
        raise ValueError("logprobs lacks tokens / token_logprobs / text_offset")
    tops = logprobs.get("top_logprobs")
    if not isinstance(tops, list):
        tops = [None] * len(tokens)
    n = min(len(tokens), len(token_lps), len(offsets))
    total = 0.0
    greedy = True
    cont_tokens = 0
    prompt_tokens = 0
    for i in range(n):
        start = int(offsets[i])
        if start >= prompt_len:
            break
        prompt_tokens += 1
        end = int(offsets[i + 1]) if i + 1 < n else prompt_len
        if end <= context_len:
            continue
        cont_tokens += 1
        lp = token_lps[i]
        # Only the first token of a prompt has no logprob (nothing to condition on); it is in the
        # continuation only for an empty context, where 0.0 is the least-wrong value.
        value = float(lp) if lp is not None else 0.0
        total += value
        top = tops[i] if i < len(tops) else None
        if isinstance(top, Mapping) and top:
            best_token = max(top, key=lambda k: float(top[k]))
            if best_token != tokens[i] and value < float(top[best_token]):
                greedy = False
        else:
            greedy = False  # unknown: do not claim greedy without evidence
    return LoglikelihoodResponse(
        logprob=total, is_greedy=greedy, tokens=cont_tokens, prompt_tokens=prompt_tokens
    )


def _defaults_for(model_type: str) -> ModelCapabilities:
    if model_type == "openai":
        # OpenAI's hosted chat models have no echo+logprobs; completions models are legacy.
        return ModelCapabilities(
            supports_logprobs=False,
            supports_completions=False,
            supports_chat=True,
            max_concurrency=32,
            max_stop_sequences=4,
        )
    if model_type == "ollama":
        # Ollama's /v1/completions ignores echo/logprobs; serving is mostly sequential.
        return ModelCapabilities(
            supports_logprobs=False, supports_completions=True, supports_chat=True, max_concurrency=4
        )
    return ModelCapabilities(
        supports_logprobs=True,
        supports_completions=True,
        supports_chat=True,
        supports_tokenize=model_type == "vllm",
        supports_batch_prompts=True,
        max_concurrency=64,
    )


DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com",
    "vllm": "http://127.0.0.1:8000",
    "ollama": "http://127.0.0.1:11434",
}


class OpenAICompatibleClient(HTTPModelClient):
    """Client for `openai-compatible`, `vllm`, `openai` and `ollama` model types."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        environ: Mapping[str, str] | None = None,
        guard: EndpointGuard | None = None,
    ) -> None:
        base = spec.base_url or DEFAULT_BASE_URLS.get(spec.model_type)
        if not base:
            from llm_research_lab.engine.models.errors import ModelConfigError

            raise ModelConfigError(f"model type {spec.model_type!r} needs a base_url")
        key = resolve_api_key(spec, environ)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        caps = spec.capabilities or _defaults_for(spec.model_type)
        super().__init__(
            spec, base_url=normalise_base_url(base), capabilities=caps, headers=headers, guard=guard
        )
        self._batching = caps.supports_batch_prompts and spec.batch_size > 1

    # ------------------------------------------------------------------ log-likelihood

    def _ll_payload(self, prompt: str | list[str], max_tokens: int | None = None) -> dict[str, Any]:
        return {
            "model": self.spec.model_name,
            "prompt": prompt,
            "echo": True,
            "logprobs": 1,
            "max_tokens": self._capabilities.echo_max_tokens if max_tokens is None else max_tokens,
            "temperature": 0.0,
        }

    def _require_logprobs(self) -> None:
        if not self._capabilities.supports_logprobs:
            raise CapabilityError(
                f"{self.endpoint} does not return prompt logprobs (chat-only or no echo support); "
                "use a generative benchmark variant",
                endpoint=self.endpoint,
            )

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodResponse:
        return (await self.loglikelihood_many([request]))[0]

    async def loglikelihood_many(
        self, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResponse]:
        self._require_logprobs()
        if not requests:
            return []
        if not self._batching or len(requests) == 1:
            return await gather_all([self._ll_one(r) for r in requests])
        size = self.spec.batch_size
        chunks = [list(requests[i : i + size]) for i in range(0, len(requests), size)]
        results = await gather_all([self._ll_chunk(c) for c in chunks])
        return [r for chunk in results for r in chunk]

    async def _ll_chunk(self, chunk: list[LoglikelihoodRequest]) -> list[LoglikelihoodResponse]:
        try:
            return await self._ll_batch(chunk)
        except ModelHTTPError as exc:
            if len(chunk) == 1 or exc.status not in (400, 422):
                raise
        # A list was refused: either the server takes no lists, or one prompt is bad (too long).
        # Only if every prompt works on its own was it the list; then stop batching for good.
        singles = await gather_all([self._ll_one(r) for r in chunk])
        self._batching = False
        return singles

    async def _ll_one(self, request: LoglikelihoodRequest) -> LoglikelihoodResponse:
        return (await self._ll_batch([request]))[0]

    async def _ll_batch(self, chunk: list[LoglikelihoodRequest]) -> list[LoglikelihoodResponse]:
        prompts = [r.context + r.continuation for r in chunk]
        payload = self._ll_payload(prompts if len(prompts) > 1 else prompts[0])
        data = expect_dict(await self._post("/v1/completions", payload), "completions", self.endpoint)
        choices = data.get("choices")
        if not isinstance(choices, list) or len(choices) != len(chunk):
            raise ModelResponseError(
                f"{self.endpoint}: expected {len(chunk)} choices, got "
                f"{len(choices) if isinstance(choices, list) else 'none'}",
                endpoint=self.endpoint,
            )
        ordered = sorted(choices, key=lambda c: int(c.get("index", 0)) if isinstance(c, dict) else 0)
        out: list[LoglikelihoodResponse] = []
        for req, prompt, choice in zip(chunk, prompts, ordered, strict=True):
            logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
            if not isinstance(logprobs, dict):
                raise ModelResponseError(
                    f"{self.endpoint}: completions response has no logprobs; the server does not "
                    "support echo+logprobs",
                    endpoint=self.endpoint,
                )
            try:
                out.append(continuation_logprob(logprobs, len(req.context), len(prompt)))
            except (ValueError, TypeError) as exc:
                raise ModelResponseError(f"{self.endpoint}: {exc}", endpoint=self.endpoint) from exc
        return out

    # ------------------------------------------------------------------ generation

    def _gen_params(self, request: GenerateRequest) -> dict[str, Any]:
        g = self.spec.generation
        params: dict[str, Any] = {
            # Model-level settings win, like lm-eval's --gen_kwargs over the task's defaults.
            "max_tokens": g.max_tokens if g.max_tokens is not None else request.max_gen_toks,
            "temperature": g.temperature if g.temperature is not None else request.temperature,
        }
        top_p = g.top_p if g.top_p is not None else request.top_p
        if top_p is not None:
            params["top_p"] = top_p
        stops = [s for s in request.until if s]
        limit = self._capabilities.max_stop_sequences
        if limit is not None:
            stops = stops[:limit]
        if stops:
            params["stop"] = stops
        params.update(g.extra_body)
        return params

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        if self.spec.generation_endpoint == "completions" or not self._capabilities.supports_chat:
            if not self._capabilities.supports_completions:
                raise CapabilityError(f"{self.endpoint} supports neither chat nor completions")
            payload = {"model": self.spec.model_name, "prompt": request.context, **self._gen_params(request)}
            data = expect_dict(await self._post("/v1/completions", payload), "completions", self.endpoint)
            text = _first_choice(data, self.endpoint).get("text")
        else:
            messages = (
                [{"role": role, "content": content} for role, content in request.messages]
                if request.messages
                else [{"role": "user", "content": request.context}]
            )
            payload = {"model": self.spec.model_name, "messages": messages, **self._gen_params(request)}
            data = expect_dict(await self._post("/v1/chat/completions", payload), "chat", self.endpoint)
            message = _first_choice(data, self.endpoint).get("message")
            text = message.get("content") if isinstance(message, dict) else None
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise ModelResponseError(
                f"{self.endpoint}: generated text is not a string", endpoint=self.endpoint
            )
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        assert isinstance(usage, dict)
        return GenerateResponse(
            text=truncate_at_stop(text, request.until),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )

    # ------------------------------------------------------------------ discovery

    async def probe(self) -> ModelCapabilities:
        """Find out what the endpoint supports. Single attempts, no retries: a probe that has to
        retry is itself the answer. Raises ModelConnectionError if the endpoint is unreachable."""
        served: tuple[str, ...] = ()
        models = await self._probe_call("GET", "/v1/models", None)
        if isinstance(models, dict) and isinstance(models.get("data"), list):
            served = tuple(str(m.get("id")) for m in models["data"] if isinstance(m, dict) and m.get("id"))

        echo_max_tokens = 0
        completions = await self._probe_call("POST", "/v1/completions", self._ll_payload("Hello world", 0))
        if not _has_echo_logprobs(completions):
            # Some servers refuse max_tokens=0; with 1 the extra generated token is ignored.
            retry = await self._probe_call("POST", "/v1/completions", self._ll_payload("Hello world", 1))
            if _has_echo_logprobs(retry):
                completions, echo_max_tokens = retry, 1
        logprobs_ok = _has_echo_logprobs(completions)
        batch_ok = False
        if logprobs_ok:
            both = await self._probe_call(
                "POST", "/v1/completions", self._ll_payload(["Hello", "world"], echo_max_tokens)
            )
            batch_ok = isinstance(both, dict) and len(both.get("choices") or []) == 2
        completions_ok = completions is not None
        if not completions_ok:
            # Echo may be refused while plain completions work (e.g. OpenAI's instruct models).
            plain = {"model": self.spec.model_name, "prompt": "Hello", "max_tokens": 1}
            completions_ok = await self._probe_call("POST", "/v1/completions", plain) is not None

        chat_payload = {
            "model": self.spec.model_name,
            "messages": [{"role": "user", "content": "Reply with OK."}],
            "max_tokens": 1,
            "temperature": 0.0,
        }
        chat_ok = await self._probe_call("POST", "/v1/chat/completions", chat_payload) is not None
        tok = await self._probe_call("POST", "/tokenize", {"model": self.spec.model_name, "prompt": "Hello"})
        tokenize_ok = isinstance(tok, dict) and isinstance(tok.get("tokens"), list)

        caps = self._capabilities.with_(
            supports_logprobs=logprobs_ok,
            supports_completions=completions_ok,
            supports_chat=chat_ok,
            supports_tokenize=tokenize_ok,
            supports_batch_prompts=batch_ok,
            served_models=served,
            echo_max_tokens=echo_max_tokens,
            probed=True,
        )
        self._capabilities = caps
        self._batching = batch_ok and self.spec.batch_size > 1
        return caps

    async def _probe_call(self, method: str, path: str, payload: Any) -> Any:
        timeout = min(_PROBE_TIMEOUT, self.spec.timeout)
        try:
            status, _, body = await self._raw(method, path, payload, timeout=timeout)
        except ModelRequestError as exc:
            raise ModelConnectionError(
                f"cannot reach {self.endpoint}: {exc}", endpoint=self.endpoint
            ) from exc
        if status >= 400:
            if status in (401, 403):
                raise ModelHTTPError(
                    status, body.decode("utf-8", "replace"), endpoint=f"{self.endpoint} {path}"
                )
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None


async def gather_all(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Like asyncio.gather, but the first failure cancels the siblings (no orphaned requests) and
    is raised as itself, not as an ExceptionGroup."""
    if len(coros) == 1:
        return [await coros[0]]
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(c) for c in coros]
    except BaseExceptionGroup as group:
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


def _first_choice(data: dict[str, Any], endpoint: str) -> dict[str, Any]:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelResponseError(f"{endpoint}: response has no choices", endpoint=endpoint)
    first: dict[str, Any] = choices[0]
    return first


def _has_echo_logprobs(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return False
    lp = choices[0].get("logprobs")
    if not isinstance(lp, dict):
        return False
    tokens = lp.get("tokens")
    token_lps = lp.get("token_logprobs")
    offsets = lp.get("text_offset")
    # Echo actually happened if the prompt's tokens came back (more than a generated token or two).
    return (
        isinstance(tokens, list)
        and isinstance(token_lps, list)
        and isinstance(offsets, list)
        and len(tokens) >= 2
        and any(v is not None for v in token_lps)
    )
