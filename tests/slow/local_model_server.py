"""A loopback OpenAI-compatible endpoint serving a local model (`LocalCausalLM`), for lm-eval.

lm-evaluation-harness's ``local-completions`` scores a log-likelihood by sending
``context + continuation`` with ``echo=true, logprobs=1, max_tokens=1`` and summing the echoed
``token_logprobs[ctxlen:-1]``, where ``ctxlen`` comes from its tokenizer (here the endpoint's own:
``/tokenizer_info`` + ``/tokenize`` + ``/detokenize``, vLLM-style). So the routes below answer with
the model's real per-token log-probabilities over the same tokenizer, plus one greedy token.
Plain completions (no echo) generate greedily. Built on tests/fakes/openai_server.py's Script routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from llm_research_lab.engine.models.huggingface import LocalCausalLM
from tests.fakes.openai_server import FakeReply, FakeRequest, FakeServer, Script


def _error(status: int, message: str) -> FakeReply:
    return FakeReply(status, {"error": {"message": message, "type": "invalid_request_error"}})


def add_local_model_routes(script: Script, model: LocalCausalLM) -> None:
    def encode(text: str) -> list[int]:
        return model.encode(text, add_special_tokens=False)

    def piece(token_id: int) -> str:
        return model.decode([token_id])

    def echo_choice(index: int, prompt: str, scores: Any) -> dict[str, Any]:
        ids = scores.ids
        tokens = [piece(t) for t in ids]
        offsets, pos = [], 0
        for tok in tokens:
            offsets.append(pos)
            pos += len(tok)
        tops: list[dict[str, float] | None] = [None]
        for i in range(1, len(ids)):
            tops.append({piece(scores.top_ids[i]): scores.top_logprobs[i], tokens[i]: scores.logprobs[i]})
        nxt = piece(scores.next_id)
        return {
            "index": index,
            "text": prompt + nxt,
            "finish_reason": "length",
            "logprobs": {
                "tokens": [*tokens, nxt],
                "token_logprobs": [*scores.logprobs, scores.next_logprob],
                "top_logprobs": [*tops, {nxt: scores.next_logprob}],
                "text_offset": [*offsets, len(prompt)],
            },
        }

    def completions(req: FakeRequest) -> FakeReply:
        body = req.json if isinstance(req.json, dict) else {}
        prompt = body.get("prompt")
        prompts = prompt if isinstance(prompt, list) else [prompt]
        if not prompts or not all(isinstance(p, str) and p for p in prompts):
            return _error(400, "prompt must be a non-empty string or a list of them")
        choices: list[dict[str, Any]] = []
        prompt_tokens = completion_tokens = 0
        if body.get("echo"):
            encoded = [encode(p) for p in prompts]
            for i, (p, scores) in enumerate(zip(prompts, model.echo(encoded), strict=True)):
                choices.append(echo_choice(i, p, scores))
                prompt_tokens += len(scores.ids)
                completion_tokens += 1
        else:
            stop = body.get("stop") or []
            until = [stop] if isinstance(stop, str) else list(stop)
            for i, p in enumerate(prompts):
                text, n_prompt, n_gen = model.generate(p, until, int(body.get("max_tokens") or 16))
                choices.append({"index": i, "text": text, "finish_reason": "stop", "logprobs": None})
                prompt_tokens += n_prompt
                completion_tokens += n_gen
        return FakeReply(
            200,
            {
                "id": "cmpl-local",
                "object": "text_completion",
                "created": 0,
                "model": script.model,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    def token_name(token_id: int | None) -> str | None:
        return None if token_id is None else piece(token_id)

    def info(req: FakeRequest) -> FakeReply:
        tok = model.tokenizer
        return FakeReply(
            200,
            {
                "eos_token": token_name(tok.eos_token_id),
                "bos_token": token_name(tok.bos_token_id),
                "pad_token": token_name(tok.pad_token_id),
                "model_max_length": model.max_length,
            },
        )

    def tokenize(req: FakeRequest) -> FakeReply:
        body = req.json if isinstance(req.json, dict) else {}
        special = body.get("add_special_tokens")
        ids = model.encode(str(body.get("prompt", "")), None if special is None else bool(special))
        return FakeReply(200, {"tokens": ids, "count": len(ids), "max_model_len": model.max_length})

    def detokenize(req: FakeRequest) -> FakeReply:
        body = req.json if isinstance(req.json, dict) else {}
        return FakeReply(200, {"prompt": model.decode([int(t) for t in body.get("tokens", [])])})

    script.routes[("POST", "/v1/completions")] = completions
    script.routes[("GET", "/tokenizer_info")] = info
    script.routes[("POST", "/tokenize")] = tokenize
    script.routes[("POST", "/detokenize")] = detokenize


@contextmanager
def serving(model: LocalCausalLM, name: str) -> Iterator[str]:
    """Serve `model` on a free loopback port; yields the base URL (without /v1)."""
    script = Script(model=name, log_requests=False)
    add_local_model_routes(script, model)
    server = FakeServer(script)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
