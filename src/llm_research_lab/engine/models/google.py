"""Google Gemini `generateContent` REST API (generation only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

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

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
MAX_STOP_SEQUENCES = 5


class GoogleClient(HTTPModelClient):
    def __init__(
        self,
        spec: ModelSpec,
        *,
        environ: Mapping[str, str] | None = None,
        guard: EndpointGuard | None = None,
    ) -> None:
        key = resolve_api_key(spec, environ)
        # The key goes in the x-goog-api-key header (equivalent to ?key=): URLs end up in logs
        # and in error messages, headers do not.
        headers = {"x-goog-api-key": key} if key else {}
        caps = spec.capabilities or ModelCapabilities(
            supports_logprobs=False,
            supports_chat=True,
            max_concurrency=16,
            max_stop_sequences=MAX_STOP_SEQUENCES,
        )
        super().__init__(
            spec, base_url=spec.base_url or DEFAULT_BASE_URL, capabilities=caps, headers=headers, guard=guard
        )
        model = spec.model_name.removeprefix("models/")
        self._path = f"/v1beta/models/{quote(model, safe='-._~')}:generateContent"

    async def loglikelihood(self, request: LoglikelihoodRequest) -> LoglikelihoodResponse:
        raise CapabilityError(
            f"{self.endpoint}: generateContent has no prompt log-likelihoods", endpoint=self.endpoint
        )

    async def loglikelihood_many(
        self, requests: Sequence[LoglikelihoodRequest]
    ) -> list[LoglikelihoodResponse]:
        raise CapabilityError(
            f"{self.endpoint}: generateContent has no prompt log-likelihoods", endpoint=self.endpoint
        )

    def _payload(self, request: GenerateRequest) -> dict[str, Any]:
        g = self.spec.generation
        system = [content for role, content in request.messages or () if role == "system"]
        if request.messages:
            contents = [
                # Gemini calls the assistant role "model".
                {"role": "model" if role == "assistant" else "user", "parts": [{"text": content}]}
                for role, content in request.messages
                if role != "system"
            ]
        else:
            contents = [{"role": "user", "parts": [{"text": request.context}]}]
        config: dict[str, Any] = {
            "maxOutputTokens": g.max_tokens if g.max_tokens is not None else request.max_gen_toks,
            "temperature": g.temperature if g.temperature is not None else request.temperature,
        }
        top_p = g.top_p if g.top_p is not None else request.top_p
        if top_p is not None:
            config["topP"] = top_p
        stops = [s for s in request.until if s][: self._capabilities.max_stop_sequences or MAX_STOP_SEQUENCES]
        if stops:
            config["stopSequences"] = stops
        payload: dict[str, Any] = {"contents": contents, "generationConfig": config}
        if system:
            payload["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        payload.update(g.extra_body)
        return payload

    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        data = expect_dict(
            await self._post(self._path, self._payload(request)), "generateContent", self.endpoint
        )
        candidates = data.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            # Blocked prompts come back with promptFeedback and no candidates: an empty answer
            # (scored wrong) is the faithful result, not an error to retry.
            text = ""
        else:
            first = candidates[0] if isinstance(candidates[0], dict) else {}
            content = first.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            if parts is not None and not isinstance(parts, list):
                raise ModelResponseError(f"{self.endpoint}: malformed candidate", endpoint=self.endpoint)
            text = "".join(str(p.get("text", "")) for p in parts or [] if isinstance(p, dict))
        usage = data.get("usageMetadata")
        usage = usage if isinstance(usage, dict) else {}
        return GenerateResponse(
            text=truncate_at_stop(text, request.until),
            prompt_tokens=int(usage.get("promptTokenCount") or 0),
            completion_tokens=int(usage.get("candidatesTokenCount") or 0),
        )
