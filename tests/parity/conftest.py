"""A loopback endpoint whose log-probabilities depend on the whole prefix, for engine-vs-lm-eval parity.

The fake server's default log-probability depends on the token alone, so two different contexts
before the same continuation would score alike and a prompt-format difference could hide. Here each
token's log-probability hashes the full text before it plus the token: any difference in the prompt
changes the continuation's score, and different answers get different scores.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from llm_research_lab.catalog import load_catalog
from llm_research_lab.catalog.resolver import load_rows
from tests.fakes.openai_server import ALT_TOKEN, FakeOpenAIApp, FakeServer, Script, tokenize
from tests.parity.fake_tokenizer import add_tokenizer_routes

MODEL = "fake-model"


def prefix_logprob(prefix: str, token: str) -> float:
    return -(0.05 + (zlib.crc32((prefix + "\x00" + token).encode("utf-8")) % 500) / 100.0)


class PrefixHashApp(FakeOpenAIApp):
    def prompt_logprobs(self, prompt: str) -> dict[str, Any]:
        toks = tokenize(prompt)
        lps: list[float | None] = [prefix_logprob(prompt[:off], tok) for tok, off in toks]
        tops: list[dict[str, float] | None] = []
        for (tok, _), lp in zip(toks, lps, strict=True):
            assert lp is not None
            alt = ALT_TOKEN if tok != ALT_TOKEN else " a"
            tops.append({tok: lp} if lp > -0.5 else {alt: lp / 2, tok: lp})
        if toks:
            lps[0] = None
            tops[0] = None
        return {
            "tokens": [t for t, _ in toks],
            "token_logprobs": lps,
            "top_logprobs": tops,
            "text_offset": [o for _, o in toks],
        }


_QUESTION = re.compile(r"Question: (.*?)\nAnswer:", re.S)


def gsm8k_answerer() -> Any:
    """Deterministic answers to the last question of a GSM8K prompt: a third right in the
    ``#### n`` format, a third right only in free text (flexible match), a third wrong."""
    path = load_catalog().resolver().resolve("gsm8k", "test")
    gold = {str(r["question"]): str(r["answer"]).split("####")[-1].strip() for r in load_rows(path)}

    def answer(prompt: str) -> str:
        questions = _QUESTION.findall(prompt)
        question = questions[-1] if questions else prompt
        truth = gold.get(question, "0")
        kind = zlib.crc32(question.encode("utf-8")) % 3
        if kind == 0:
            return f" Let me think. {truth} it is.\n#### {truth}\n\nQuestion: next"
        if kind == 1:
            return f" The total is {truth}."
        return " I guess #### 7"

    return answer


@dataclass
class Endpoint:
    base_url: str
    script: Script


@pytest.fixture(scope="package")
def parity_endpoint() -> Iterator[Endpoint]:
    script = Script(model=MODEL, answer_fn=gsm8k_answerer(), log_requests=False)
    add_tokenizer_routes(script)
    server = FakeServer(script)
    server.app = PrefixHashApp(script)
    url = server.start()
    try:
        yield Endpoint(url, script)
    finally:
        server.stop()
