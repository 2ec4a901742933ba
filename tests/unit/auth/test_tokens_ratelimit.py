"""Token codec and rate limiter, without the app."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from llm_research_lab.errors import RateLimitError, UnauthorizedError
from llm_research_lab.schemas.auth import parse_duration
from llm_research_lab.server.auth.ratelimit import TIERS, RateLimiter, create_storage
from llm_research_lab.server.auth.tokens import ACCESS, REFRESH, TokenCodec
from llm_research_lab.server.clock import Clock

SECRET = "unit-secret-" + "u" * 40


class Fixed(Clock):
    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


def test_codec_roundtrip_and_refusals() -> None:
    clock = Fixed(1_800_000_000)
    codec = TokenCodec(SECRET, clock)
    sub = uuid.uuid4()
    token, claims = codec.encode(sub=sub, role="viewer", typ=ACCESS, ttl_s=3600)
    assert codec.decode(token, ACCESS).sub == sub and claims.role == "viewer"
    with pytest.raises(UnauthorizedError):
        codec.decode(token, REFRESH)
    with pytest.raises(UnauthorizedError):
        TokenCodec("other-secret-" + "o" * 40, clock).decode(token, ACCESS)
    payload = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    none_token = jwt.encode(payload, None, algorithm="none")
    with pytest.raises(UnauthorizedError):
        codec.decode(none_token, ACCESS)
    clock.t += 3600
    with pytest.raises(UnauthorizedError):
        codec.decode(token, ACCESS)


def test_parse_duration() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    for bad in ("0d", "1w", "", "d30"):
        with pytest.raises(ValueError):
            parse_duration(bad)


async def test_limiter_windows_on_a_fake_clock() -> None:
    clock = Fixed(1_800_000_000)
    limiter = RateLimiter(create_storage("memory://"), clock)
    tier = TIERS["standard"]
    assert tier is not None and (tier.per_hour, tier.burst) == (1000, 50)
    decisions = [await limiter.hit("user:a", tier) for _ in range(51)]
    assert all(d.allowed for d in decisions[:50]) and not decisions[50].allowed
    assert decisions[49].remaining == 950 and decisions[50].limit == 50
    clock.t += 60
    assert (await limiter.hit("user:a", tier)).allowed
    assert (await limiter.hit("user:a", None)).limit is None  # enterprise


async def test_login_throttle_raises_with_retry_after() -> None:
    clock = Fixed(1_800_000_030)
    limiter = RateLimiter(create_storage("memory://"), clock)
    for _ in range(5):
        await limiter.check_login("a@example.com", "1.2.3.4")
        await limiter.login_failed("A@example.com ", "1.2.3.4")
    with pytest.raises(RateLimitError) as info:
        await limiter.check_login("a@example.com", "5.6.7.8")
    assert info.value.retry_after == 30 and info.value.headers["Retry-After"] == "30"
