"""The clock that long waits run on: monotonic time and sleep, in one place.

The health gate polls for up to half an hour and backs off between its retries. It reads the time
and sleeps through `current()`, so a test can stand in a clock on which a sleep takes no time
(`using`): a gate test then covers a 30-second timeout at once, and how many reads fit in it no
longer depends on how busy the machine is. Outside such a block it is the system's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    monotonic: Callable[[], float]
    sleep: Callable[[float], None]


SYSTEM = Clock(time.monotonic, time.sleep)
_stack = [SYSTEM]


def current() -> Clock:
    """The clock waits run on now: the system's, unless a `using` block stands another in."""
    return _stack[-1]


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Run the block's waits on `clock`."""
    _stack.append(clock)
    try:
        yield clock
    finally:
        _stack.remove(clock)
