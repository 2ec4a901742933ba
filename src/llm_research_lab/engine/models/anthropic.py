"""Anthropic's native Messages API (generation only: it returns no prompt logprobs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llm_research_lab.engine.concurrency import EndpointGuard
from llm_research_lab.engine.models.base import ModelCapabilities, ModelSpec, truncate_at_stop
from llm_research_lab.engine.models.errors import CapabilityError, ModelResponseError
from llm_research_lab.engine.models.http import HTTPModelClient, expect_dict, resolve_api_key
from llm_research_lab.engine.types import (
    GenerateRequest,
    GenerateResponse,
    LoglikelihoodRequest,
    LoglikelihoodResponse,
)

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_BASE_URL = "https://api.anthropic.com"


class AnthropicClient(HTTPModelClient):
    def __init__(
        self,
        spec: ModelSpec,
        *,
        environ: Mapping[str, str] | None = None,
        guard: EndpointGuard | None = None,
    ) -> None:
        key = resolve_api_key(spec, environ)
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        caps = spec.capabilities or ModelCapabilities(
            supports_logprobs=False, supports_chat=True, max_concurrency=16
        )
        base = (spec.base_url or DEFAULT_BASE_URL).rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        super().__init__(spec, base_url=base, capabilities=caps, headers=headers, guard=guard)

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodResponse:
        raise CapabilityError(
            f"{self.endpoint}: the Messages API has no log-likelihoods", endpoint=self.endpoint
        )

    async def loglikelihood_many(
        self, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResponse]:
        raise CapabilityError(
            f"{self.endpoint}: the Messages API has no log-likelihoods", endpoint=self.endpoint
        )

    def _payload(self, request: GenerateRequest) -> dict[str, Any]:
        g = self.spec.generation
        system = [content for role, content in request.messages or () if role == "system"]
        messages = (
            [{"role": role, "content": content} for role, content in request.messages if role != "system"]
            if request.messages
            else [{"role": "user", "content": request.context}]
        )
        payload: dict[str, Any] = {
            "model": self.spec.model_name,
            "max_tokens": g.max_tokens if g.max_tokens is not None else request.max_gen_toks,
            "messages": messages,
            "temperature": g.temperature if g.temperature is not None else request.temperature,
        }
        if system:
            payload["system"] = "\n\n".join(system)
        top_p = g.top_p if g.top_p is not None else request.top_p
        if top_p is not None:
            payload["top_p"] = top_p
        # The API rejects whitespace-only stop sequences ("\n\n" is common in benchmarks);
        # those are applied client-side by truncate_at_stop instead.
        stops = [s for s in request.until if s.strip()]
        if stops:
            payload["stop_sequences"] = stops
        payload.update(g.extra_body)
        return payload

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        data = expect_dict(
            await self._post("/v1/messages", self._payload(request)), "messages", self.endpoint
        )
        content = data.get("content")
        if not isinstance(content, list):
            raise ModelResponseError(f"{self.endpoint}: response has no content list", endpoint=self.endpoint)
        text = "".join(
            str(block.get("text", ""))
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
        )
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        return GenerateResponse(
            text=truncate_at_stop(text, request.until),
            prompt_tokens=int(usage.get("input_tokens") or 0),
            completion_tokens=int(usage.get("output_tokens") or 0),
        )
