"""Per-principal rate limits with the seed's tiers, on `limits` storage (memory, or Redis shared by
several API processes).

Windows: a one-minute *burst* window and a one-hour window, both fixed and aligned to the clock
(minute and hour boundaries), so every process that shares a Redis computes the same window keys
and the `X-RateLimit-Reset` it reports is the same for all of them. The burst limit is per minute
(not per second): with 100 requests an hour, "10 per second" would let a client spend the whole hour
in ten seconds, "10 per minute" spreads it over at least ten minutes.

Counting uses the storage's atomic increment (one round trip per window); a rejected request counts
too, which cannot extend a block beyond the window's aligned end.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from limits.aio.storage import Storage
from limits.storage import storage_from_string

from llm_research_lab.errors import RateLimitError
from llm_research_lab.server.clock import Clock

BURST_WINDOW_S = 60
HOUR_WINDOW_S = 3600
LOGIN_WINDOW_S = 60
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True, slots=True)
class Tier:
    per_hour: int
    burst: int  # per BURST_WINDOW_S


# None: unlimited (enterprise; local single-user mode).
TIERS: dict[str, Tier | None] = {
    "free": Tier(per_hour=100, burst=10),
    "standard": Tier(per_hour=1_000, burst=50),
    "professional": Tier(per_hour=10_000, burst=200),
    "enterprise": None,
}


def tier_of(name: str | None, default: str = "standard") -> Tier | None:
    return TIERS.get(name or default, TIERS[default])


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int | None  # None: unlimited
    remaining: int | None
    reset: int  # unix seconds when the reported window ends

    def headers(self) -> dict[str, str]:
        if self.limit is None:
            return {
                "X-RateLimit-Limit": "unlimited",
                "X-RateLimit-Remaining": "unlimited",
                "X-RateLimit-Reset": str(self.reset),
            }
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }

    def error(self, now: float) -> RateLimitError:
        retry_after = max(1, math.ceil(self.reset - now))
        return RateLimitError(
            f"Rate limit exceeded. Please retry after {retry_after} seconds.",
            headers={**self.headers(), "Retry-After": str(retry_after)},
            retry_after=retry_after,
            limit=self.limit,
            remaining=0,
            reset_at=datetime.fromtimestamp(self.reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


def create_storage(url: str) -> Storage:
    """`memory://` (this process) or `redis://host:port/db` (shared); async variants of both."""
    async_url = url if url.startswith("async+") else f"async+{url}"
    if async_url.startswith(("async+redis://", "async+rediss://")):
        storage = storage_from_string(async_url, implementation="redispy")
    else:
        storage = storage_from_string(async_url)
    assert isinstance(storage, Storage)
    return storage


class RateLimiter:
    def __init__(self, storage: Storage, clock: Clock, *, enabled: bool = True) -> None:
        self.storage = storage
        self.clock = clock
        self.enabled = enabled

    async def _count(self, key: str, window_s: int, *, increment: bool) -> tuple[int, int]:
        """(count in the current window, unix end of the window)."""
        now = self.clock.time()
        start = int(now // window_s) * window_s
        full = f"lab:{window_s}:{key}:{start}"
        if increment:
            # Expiry in real seconds: the key name already carries the window, so a fake clock
            # that jumps ahead simply lands in a fresh key.
            count = await self.storage.incr(full, window_s + 5)
        else:
            count = await self.storage.get(full)
        return count, start + window_s

    def _hour_end(self) -> int:
        return (int(self.clock.time()) // HOUR_WINDOW_S + 1) * HOUR_WINDOW_S

    async def hit(self, key: str, tier: Tier | None) -> Decision:
        if tier is None or not self.enabled:
            return Decision(True, None, None, self._hour_end())
        burst_count, burst_reset = await self._count(key, BURST_WINDOW_S, increment=True)
        hour_count, hour_reset = await self._count(key, HOUR_WINDOW_S, increment=True)
        if hour_count > tier.per_hour:
            return Decision(False, tier.per_hour, 0, hour_reset)
        if burst_count > tier.burst:
            return Decision(False, tier.burst, 0, burst_reset)
        # The seed's headers describe the hourly budget.
        return Decision(True, tier.per_hour, tier.per_hour - hour_count, hour_reset)

    # Failed logins: counted per account and per client address, checked before the password is.
    @staticmethod
    def _login_keys(account: str, address: str) -> list[tuple[str, int]]:
        digest = hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]
        return [
            (f"login-fail:acct:{digest}", LOGIN_FAILURES_PER_ACCOUNT),
            (f"login-fail:ip:{address}", LOGIN_FAILURES_PER_ADDRESS),
        ]

    async def check_login(self, account: str, address: str) -> None:
        for key, limit in self._login_keys(account, address):
            count, reset = await self._count(key, LOGIN_WINDOW_S, increment=False)
            if count >= limit:
                raise Decision(False, limit, 0, reset).error(self.clock.time())

    async def login_failed(self, account: str, address: str) -> None:
        for key, _ in self._login_keys(account, address):
            await self._count(key, LOGIN_WINDOW_S, increment=True)

    async def ping(self) -> None:
        if not await self.storage.check():
            raise ConnectionError("rate-limit storage unreachable")
