"""vLLM-style tokenizer routes for the loopback fake server (tests/fakes/openai_server.py).

lm-evaluation-harness's ``local-completions`` needs a tokenizer for log-likelihood requests (to know
where the context ends); offline, the only one it can use is the endpoint's own ("remote":
``GET /tokenizer_info``, ``POST /tokenize``, ``POST /detokenize``). The fake server's built-in
``/tokenize`` returns hashed ids that cannot be decoded, so tests register these routes instead: the
same whitespace tokens as the fake server's log-probabilities (``tokenize`` below), with a reversible
vocabulary, so lm-eval's token counts line up with the server's echoed tokens exactly.
"""

from __future__ import annotations

import threading

from tests.fakes.openai_server import FakeReply, FakeRequest, Script, tokenize


class Vocabulary:
    """token text <-> id, grown on first sight; shared by the routes of one fake server."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._tokens: list[str] = []
        self._lock = threading.Lock()

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        with self._lock:
            for tok, _ in tokenize(text):
                idx = self._ids.get(tok)
                if idx is None:
                    idx = self._ids[tok] = len(self._tokens)
                    self._tokens.append(tok)
                out.append(idx)
        return out

    def decode(self, ids: list[int]) -> str:
        with self._lock:
            return "".join(self._tokens[i] for i in ids)


def add_tokenizer_routes(script: Script) -> Vocabulary:
    """Register /tokenizer_info, /tokenize and /detokenize on `script`; returns the vocabulary."""
    vocab = Vocabulary()

    def info(req: FakeRequest) -> FakeReply:
        return FakeReply(
            200, {"eos_token": None, "bos_token": None, "pad_token": None, "model_max_length": 8192}
        )

    def tok(req: FakeRequest) -> FakeReply:
        body = req.json if isinstance(req.json, dict) else {}
        ids = vocab.encode(str(body.get("prompt", "")))
        return FakeReply(200, {"tokens": ids, "count": len(ids), "max_model_len": 8192})

    def detok(req: FakeRequest) -> FakeReply:
        body = req.json if isinstance(req.json, dict) else {}
        return FakeReply(200, {"prompt": vocab.decode([int(i) for i in body.get("tokens", [])])})

    script.routes[("GET", "/tokenizer_info")] = info
    script.routes[("POST", "/tokenize")] = tok
    script.routes[("POST", "/detokenize")] = detok
    return vocab
