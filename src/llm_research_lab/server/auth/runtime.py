"""The long-lived auth objects create_app builds once (state.extras["auth"])."""

from __future__ import annotations

from dataclasses import dataclass

from llm_research_lab.server.auth.ratelimit import RateLimiter
from llm_research_lab.server.auth.tokens import TokenCodec
from llm_research_lab.server.clock import Clock
from llm_research_lab.server.state import AppState
from llm_research_lab.settings import Settings

EXTRA_KEY = "auth"


@dataclass
class AuthRuntime:
    settings: Settings
    clock: Clock
    codec: TokenCodec
    limiter: RateLimiter

    def set_clock(self, clock: Clock) -> None:
        """Tests: one fake clock for tokens, keys and rate-limit windows."""
        self.clock = clock
        self.codec = TokenCodec(self.codec._secret, clock)
        self.limiter.clock = clock


def auth_runtime(state: AppState) -> AuthRuntime:
    runtime: AuthRuntime = state.extras[EXTRA_KEY]
    return runtime
