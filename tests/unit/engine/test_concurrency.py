"""The concurrency/retry policy, tested deterministically (no sockets, no real sleeps)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import pytest

from llm_research_lab.engine.concurrency import (
    AIMDLimiter,
    EndpointGuard,
    FailureBudget,
    FailureBudgetExceeded,
    RetryPolicy,
    RetryVerdict,
    parse_retry_after,
)

# --------------------------------------------------------------------------- AIMD


def test_additive_increase_after_a_full_window() -> None:
    lim = AIMDLimiter(initial=4, maximum=6)
    for _ in range(3):
        lim.on_success()
    assert lim.limit == 4
    lim.on_success()  # 4 successes = one window at limit 4
    assert lim.limit == 5
    for _ in range(5):
        lim.on_success()
    assert lim.limit == 6
    for _ in range(50):
        lim.on_success()
    assert lim.limit == 6  # capped at maximum
    assert lim.increases == 2


def test_multiplicative_decrease_once_per_epoch_with_floor() -> None:
    lim = AIMDLimiter(initial=16, maximum=32, minimum=2)
    lim.on_overload(epoch=0)
    assert lim.limit == 8
    # Three more 429s from requests sent under the old limit (epoch 0): no further cuts.
    for _ in range(3):
        lim.on_overload(epoch=0)
    assert lim.limit == 8
    lim.on_overload(epoch=1)
    lim.on_overload(epoch=2)
    lim.on_overload(epoch=3)
    assert lim.limit == 2  # floor
    assert lim.decreases == 3


async def test_slot_outcomes_drive_the_limit() -> None:
    lim = AIMDLimiter(initial=2, maximum=4)
    async with lim.slot():
        pass
    async with lim.slot():
        pass
    assert lim.limit == 3  # a window of 2 successes
    async with lim.slot() as slot:
        slot.overloaded()
    assert lim.limit == 1
    with pytest.raises(RuntimeError):
        async with lim.slot():
            raise RuntimeError("boom")
    assert lim.limit == 1 and lim.in_flight == 0  # an unmarked error is neutral


async def test_acquire_waits_fifo_and_survives_cancellation() -> None:
    lim = AIMDLimiter(initial=1, maximum=1)
    held = await lim.acquire()
    order: list[str] = []

    async def take(name: str) -> None:
        slot = await lim.acquire()
        order.append(name)
        lim.release(slot)

    a = asyncio.create_task(take("a"))
    b = asyncio.create_task(take("b"))
    c = asyncio.create_task(take("c"))
    await asyncio.sleep(0)
    b.cancel()  # a waiter that gives up must not leak a slot
    await asyncio.sleep(0)
    lim.release(held)
    await asyncio.gather(a, c)
    assert order == ["a", "c"]
    assert b.cancelled() and lim.in_flight == 0


# --------------------------------------------------------------------------- retry policy


def test_backoff_is_exponential_capped_and_jittered_deterministically() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.5)
    no_jitter = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=0.0)
    assert [no_jitter.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    rng1, rng2 = random.Random(7), random.Random(7)
    a = [policy.backoff(n, rng1) for n in range(1, 6)]
    b = [policy.backoff(n, rng2) for n in range(1, 6)]
    assert a == b
    for n, d in enumerate(a, start=1):
        full = no_jitter.backoff(n)
        assert full * 0.5 <= d <= full


def test_retry_after_wins_over_shorter_backoff() -> None:
    policy = RetryPolicy(base_delay=0.1, jitter=0.0, max_retry_after=30)
    assert policy.delay(1, RetryVerdict(retry=True, retry_after=3.0)) == 3.0
    assert policy.delay(1, RetryVerdict(retry=True)) == 0.1
    assert policy.delay(1, RetryVerdict(retry=True, retry_after=999)) == 30


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:10 GMT", now) == 10.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-3") == 0.0


# --------------------------------------------------------------------------- failure budget


def test_budget_trips_on_consecutive_failures_and_resets_on_success() -> None:
    budget = FailureBudget("http://x", max_consecutive=3, min_requests=1000)
    budget.failure("e1")
    budget.failure("e2")
    budget.success()
    budget.failure("e3")
    budget.failure("e4")
    budget.check()  # only 2 in a row
    budget.failure("e5")
    with pytest.raises(FailureBudgetExceeded) as info:
        budget.check()
    assert "http://x" in str(info.value) and "3 consecutive" in str(info.value) and "e5" in str(info.value)


def test_budget_trips_on_failure_ratio() -> None:
    budget = FailureBudget("ep", max_consecutive=100, max_failure_ratio=0.5, min_requests=10)
    for _ in range(4):
        budget.failure("x")
        budget.success()
    budget.check()
    budget.failure("x")  # 5 of 9: below min_requests
    budget.check()
    budget.failure("last")  # 6 of 10 > 50%
    with pytest.raises(FailureBudgetExceeded, match="6 of 10 requests failed"):
        budget.check()


# --------------------------------------------------------------------------- the guard loop


class Flaky(Exception):
    def __init__(self, verdict: RetryVerdict) -> None:
        super().__init__(f"flaky {verdict}")
        self.verdict = verdict


def classify(exc: BaseException) -> RetryVerdict:
    return exc.verdict if isinstance(exc, Flaky) else RetryVerdict(retry=False)


async def test_guard_retries_with_recorded_delays() -> None:
    slept: list[float] = []

    async def fake_sleep(d: float) -> None:
        slept.append(d)

    guard = EndpointGuard(
        "ep", policy=RetryPolicy(base_delay=1.0, jitter=0.0, max_attempts=5), sleep=fake_sleep
    )
    outcomes = [
        Flaky(RetryVerdict(retry=True)),
        Flaky(RetryVerdict(retry=True, overloaded=True, retry_after=7.0, counts_as_failure=False)),
        Flaky(RetryVerdict(retry=True)),
    ]

    async def attempt() -> str:
        if outcomes:
            raise outcomes.pop(0)
        return "ok"

    assert await guard.call(attempt, classify) == "ok"
    assert slept == [1.0, 7.0, 4.0]
    assert guard.stats.retries == 3 and guard.stats.attempts == 4
    # 429-style backpressure is not a failure; the other two were, then a success reset the streak.
    assert guard.budget.failures == 2 and guard.budget.consecutive == 0


async def test_guard_does_not_retry_non_retryable_and_gives_up_after_max_attempts() -> None:
    async def no_sleep(d: float) -> None:
        return None

    guard = EndpointGuard("ep", policy=RetryPolicy(max_attempts=3), sleep=no_sleep)
    calls = 0

    async def bad_request() -> None:
        nonlocal calls
        calls += 1
        raise Flaky(RetryVerdict(retry=False))

    with pytest.raises(Flaky):
        await guard.call(bad_request, classify)
    assert calls == 1

    calls = 0

    async def always_500() -> None:
        nonlocal calls
        calls += 1
        raise Flaky(RetryVerdict(retry=True))

    with pytest.raises(Flaky):
        await guard.call(always_500, classify)
    assert calls == 3


async def test_waiter_cancelled_just_before_release_does_not_leak_or_crash() -> None:
    lim = AIMDLimiter(initial=1, maximum=1)
    held = await lim.acquire()
    waiter = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    lim.release(held)  # _wake() meets the cancelled future before the waiter task runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert lim.in_flight == 0
    slot = await asyncio.wait_for(lim.acquire(), 1)
    lim.release(slot)
