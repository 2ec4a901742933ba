"""Per-endpoint adaptive concurrency, retry policy and failure budget.

These pieces know nothing of HTTP: a model client classifies its own exceptions into a
`RetryVerdict` (retry? overload signal? server-requested delay?) and `call_with_retries` applies
the policy. Keeping the policy pure makes it unit-testable without sockets or real sleeps.

- `AIMDLimiter`: additive increase (+1 after a full window of successes), multiplicative
  decrease (halve on 429/503), like TCP congestion control. One decrease per "epoch" so a burst
  of 429s from requests that were all sent under the old limit halves once, not N times.
- `RetryPolicy`: bounded attempts, exponential backoff with jitter, honours `Retry-After`.
- `FailureBudget`: after N consecutive failures, or too high a failure ratio, every further call
  fails fast with a message naming the endpoint and the last error, so a dead endpoint fails the
  run instead of wedging it for hours of backoff.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")

DEFAULT_INITIAL_CONCURRENCY = 8
DEFAULT_MAX_CONCURRENCY = 64


class FailureBudgetExceeded(RuntimeError):
    """The endpoint failed too often; the benchmark must stop (not retry forever)."""

    def __init__(self, endpoint: str, reason: str, last_error: str | None) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.last_error = last_error
        msg = f"endpoint {endpoint} exceeded its failure budget: {reason}"
        if last_error:
            msg += f"; last error: {last_error}"
        super().__init__(msg)


# --------------------------------------------------------------------------- limiter


class Slot:
    """One acquired concurrency slot. Mark `overloaded()` when the server pushed back."""

    __slots__ = ("_outcome", "epoch")

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self._outcome = "success"

    def overloaded(self) -> None:
        self._outcome = "overload"

    def failed(self) -> None:
        """A failure that says nothing about load (e.g. a 400): no increase, no decrease."""
        self._outcome = "neutral"


class AIMDLimiter:
    """Adaptive concurrency limit for one endpoint (an async context manager per request)."""

    def __init__(
        self,
        initial: int = DEFAULT_INITIAL_CONCURRENCY,
        maximum: int = DEFAULT_MAX_CONCURRENCY,
        minimum: int = 1,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got {minimum}, {maximum}")
        self.minimum = minimum
        self.maximum = maximum
        self._limit = max(minimum, min(initial, maximum))
        self._in_flight = 0
        self._successes = 0
        self._epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        # History of limit changes, cheap and handy for tests and diagnostics.
        self.decreases = 0
        self.increases = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(self) -> Slot:
        if self._in_flight < self._limit and not self._waiters:
            self._in_flight += 1
            return Slot(self._epoch)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                # We were handed a slot and cancelled in the same breath: give it back.
                self._in_flight -= 1
                self._wake()
            elif fut in self._waiters:  # _wake() may already have popped (and skipped) it
                self._waiters.remove(fut)
            raise
        return Slot(self._epoch)

    def release(self, slot: Slot) -> None:
        self._in_flight -= 1
        if slot._outcome == "overload":
            self.on_overload(slot.epoch)
        elif slot._outcome == "success":
            self.on_success()
        self._wake()

    def on_success(self) -> None:
        self._successes += 1
        # A "window" is as many successes as the current limit: roughly one round trip's worth.
        if self._successes >= self._limit:
            self._successes = 0
            if self._limit < self.maximum:
                self._limit += 1
                self.increases += 1

    def on_overload(self, epoch: int | None = None) -> None:
        if epoch is not None and epoch != self._epoch:
            return  # this request was sent under a limit we already cut; don't cut twice
        self._epoch += 1
        self._successes = 0
        new = max(self.minimum, self._limit // 2)
        if new != self._limit:
            self.decreases += 1
        self._limit = new

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self._limit:
            fut = self._waiters.popleft()
            if not fut.done():
                self._in_flight += 1
                fut.set_result(None)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        slot = await self.acquire()
        try:
            yield slot
        except BaseException:
            # An exception says nothing about load unless the caller marked it overloaded.
            if slot._outcome == "success":
                slot.failed()
            raise
        finally:
            self.release(slot)


# --------------------------------------------------------------------------- retry policy


@dataclass(frozen=True, slots=True)
class RetryVerdict:
    """How a client classifies one failed attempt."""

    retry: bool
    overloaded: bool = False
    retry_after: float | None = None
    # Rate limiting is back-pressure, not breakage: it does not eat the consecutive budget.
    counts_as_failure: bool = True
    # Auth errors, unknown model: retrying or continuing with other docs is pointless.
    fatal: bool = False


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` is delta-seconds or an HTTP date (RFC 9110 §10.2.3). Returns seconds."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 20.0
    # A server asking for more than this is treated as "give up on this attempt chain".
    max_retry_after: float = 120.0
    jitter: float = 0.5

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay before retry number `attempt` (1-based): exponential, capped, jittered.

        Jitter spreads retries of many concurrent requests so they don't hit the recovering
        server in lockstep ("thundering herd").
        """
        raw = min(self.max_delay, self.base_delay * (2.0 ** (attempt - 1)))
        r = (rng or random).random()
        return raw * (1.0 - self.jitter * r)

    def delay(self, attempt: int, verdict: RetryVerdict, rng: random.Random | None = None) -> float:
        backoff = self.backoff(attempt, rng)
        if verdict.retry_after is not None:
            # Never retry sooner than the server asked.
            return max(backoff, min(verdict.retry_after, self.max_retry_after))
        return backoff


# --------------------------------------------------------------------------- failure budget


class FailureBudget:
    def __init__(
        self,
        endpoint: str,
        max_consecutive: int = 25,
        max_failure_ratio: float = 0.5,
        min_requests: int = 50,
    ) -> None:
        self.endpoint = endpoint
        self.max_consecutive = max_consecutive
        self.max_failure_ratio = max_failure_ratio
        self.min_requests = min_requests
        self.requests = 0
        self.failures = 0
        self.consecutive = 0
        self.last_error: str | None = None
        self._tripped: FailureBudgetExceeded | None = None

    @property
    def tripped(self) -> bool:
        return self._tripped is not None

    def check(self) -> None:
        if self._tripped is not None:
            raise self._tripped

    def success(self) -> None:
        self.requests += 1
        self.consecutive = 0

    def failure(self, error: str) -> None:
        self.requests += 1
        self.failures += 1
        self.consecutive += 1
        self.last_error = error
        if self._tripped is not None:
            return
        if self.consecutive >= self.max_consecutive:
            self._trip(f"{self.consecutive} consecutive failed requests")
        elif self.requests >= self.min_requests and self.failures / self.requests > self.max_failure_ratio:
            self._trip(
                f"{self.failures} of {self.requests} requests failed (more than {self.max_failure_ratio:.0%})"
            )

    def _trip(self, reason: str) -> None:
        self._tripped = FailureBudgetExceeded(self.endpoint, reason, self.last_error)


# --------------------------------------------------------------------------- the loop


@dataclass(slots=True)
class CallStats:
    attempts: int = 0
    retries: int = 0


class EndpointGuard:
    """Limiter + retry policy + failure budget for one endpoint, shared by all its requests."""

    def __init__(
        self,
        endpoint: str,
        limiter: AIMDLimiter | None = None,
        policy: RetryPolicy | None = None,
        budget: FailureBudget | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.limiter = limiter or AIMDLimiter()
        self.policy = policy or RetryPolicy()
        self.budget = budget or FailureBudget(endpoint)
        self.stats = CallStats()
        self._sleep = sleep
        self._rng = rng

    async def call(
        self, attempt: Callable[[], Awaitable[T]], classify: Callable[[BaseException], RetryVerdict]
    ) -> T:
        """Run `attempt` until it succeeds, is not retryable, or attempts run out."""
        n = 0
        while True:
            self.budget.check()
            n += 1
            self.stats.attempts += 1
            verdict: RetryVerdict | None = None
            error: Exception | None = None
            async with self.limiter.slot() as slot:
                try:
                    result = await attempt()
                except Exception as exc:  # classified below; CancelledError passes through
                    verdict = classify(exc)
                    error = exc
                    if verdict.overloaded:
                        slot.overloaded()
                    else:
                        slot.failed()
            if verdict is None or error is None:
                self.budget.success()
                return result
            final = not verdict.retry or n >= self.policy.max_attempts
            if verdict.retry_after is not None and verdict.retry_after > self.policy.max_retry_after:
                final = True
            if verdict.counts_as_failure or final:
                self.budget.failure(_describe(error))
            if final:
                self.budget.check()
                raise error
            self.stats.retries += 1
            await self._sleep(self.policy.delay(n, verdict, self._rng))


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
