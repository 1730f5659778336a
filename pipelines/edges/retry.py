"""When to try again, and for how long: the one retry policy of every client that talks to a service.

The registry, the package index, GitHub (through `pipelines.edges.http`) and the Kubernetes
health gate all retry the same way: exponential backoff with jitter (so that clients failing
together do not retry together), at least as long as the server's Retry-After asks (seconds
or an HTTP date), at most `max_attempts` tries of one request, and never past a total
`Deadline` for the whole run. The clock, the sleep and the random source are injectable, so
tests run without waiting.

An attempt is a function returning either its result or a `Retry` that says what went
wrong; `Retrier.run` decides whether to wait and try again, or gives up with `Unavailable`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from pipelines.core.errors import Unavailable
from pipelines.core.values import Value

T = TypeVar("T")
Clock = Callable[[], float]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# 2**62 seconds is already beyond any max_delay; a larger exponent would only overflow a float.
_MAX_EXPONENT = 62
_MAX_RETRY_AFTER_DIGITS = 15


class RetryPolicy(Value):
    """How long to keep trying: per request, between attempts, and for the whole run."""

    max_time: float = 300.0  # seconds for everything one client does
    max_attempts: int = 8  # per request
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, fraction: float) -> float:
        """The wait before retry number `attempt` (0 first): exponential with jitter, at least Retry-After.

        `fraction` in [0, 1) picks the jitter: half the exponential step is fixed, half random.
        """
        step = min(self.max_delay, self.base_delay * 2.0 ** min(attempt, _MAX_EXPONENT))
        delay = step / 2 + step / 2 * fraction
        return max(delay, retry_after) if retry_after is not None else delay


class Deadline:
    """A moment on a monotonic clock after which no new work starts; every request's timeout is cut to it."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._started = clock()

    def elapsed(self) -> float:
        return self._clock() - self._started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def expired(self) -> bool:
        return self.remaining() <= 0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # More digits than any float holds as an exact count of seconds: longer than any deadline anyway.
        return float(int(value)) if len(value) <= _MAX_RETRY_AFTER_DIGITS else math.inf
    try:
        # Imported here: a date in Retry-After is rare, and email.utils costs every command's start.
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # a year past what a datetime holds: no date
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class Retry(Value):
    """What an attempt returns when it failed in a way that trying again may fix."""

    fault: str  # for people: "HTTP 503 (UNAVAILABLE: …)", "connection failed (timed out)"
    retry_after: float | None = None


STOP_POLL = 0.05  # seconds: how soon a wait for a retry notices that its caller stopped


class Retrier:
    """Runs attempts under one policy and one deadline; counts the retries it made."""

    def __init__(
        self,
        policy: RetryPolicy,
        deadline: Deadline,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.policy = policy
        self.deadline = deadline
        self.retries = 0  # of every thread that sends under this policy
        self._count = threading.Lock()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._say = say or (lambda message: None)

    def run(
        self,
        attempt: Callable[[], T | Retry],
        what: str,
        hint: str,
        *,
        label: str | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> T:
        """The first result of `attempt` that is not a `Retry`; `Unavailable` naming `what` when time or tries run out.

        `label` names the attempt in the progress line of each retry (default: `what`). When `stop` says so
        (its caller no longer needs the answer), no further attempt is made and the wait for one is cut
        short: `Unavailable`, "no longer needed".
        """
        tries = 0
        while True:
            if self.deadline.expired():
                raise self.gave_up(what, "the time limit was reached", tries, hint)
            if stop is not None and stop():
                raise self.gave_up(what, "stopped: no longer needed", tries, hint)
            outcome = attempt()
            tries += 1
            if not isinstance(outcome, Retry):
                return outcome
            delay = self.policy.delay(tries - 1, outcome.retry_after, self._rng.random())
            if tries >= self.policy.max_attempts:
                raise self.gave_up(what, outcome.fault, tries, hint)
            if delay > self.deadline.remaining():
                raise self.gave_up(what, f"{outcome.fault}; the next try would pass the time limit", tries, hint)
            with self._count:
                self.retries += 1
            self._say(f"  {label or what}: {outcome.fault}; retrying in {delay:.1f}s")
            if stop is None:
                self._sleep(delay)
            else:
                self._wait(delay, stop)

    def _wait(self, delay: float, stop: Callable[[], bool]) -> None:
        """Sleep `delay` in steps of at most STOP_POLL seconds, ending early once `stop` says so."""
        while delay > 0 and not stop():
            step = min(delay, STOP_POLL)
            self._sleep(step)
            delay -= step

    def gave_up(self, what: str, fault: str, attempts: int, hint: str) -> Unavailable:
        return Unavailable(
            f"{what}: {fault} (gave up after {attempts} attempt(s), "
            f"{self.deadline.elapsed():.0f}s of the {self.deadline.seconds:.0f}s limit)",
            hint=hint,
        )
