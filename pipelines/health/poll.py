"""The health gate's one poll loop: read, say what changed, sleep the interval, stop at a final read or the deadline.

Both gates (the Application alone, and an Application with its canary Rollout) poll through
`poll`; they differ only in what one read is. The loop owns: the deadline (no sleep past it,
a timeout once it is gone), the interval, the heartbeat (a line at every change, and at least
every HEARTBEAT_SECONDS without one so a CI log never looks stuck), and the outage rule: an
Unavailable on the first read has no verdict and is raised, while one after a successful read
(the cluster edge's retries have then waited it out until the deadline) ends as a timeout that
keeps the last read. The clock comes in with the Deadline; the sleep is edges/clock's, or an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from pipelines.core.errors import Unavailable
from pipelines.edges import clock

if TYPE_CHECKING:
    from pipelines.edges.retry import Deadline

# Without a state change, still say something this often so a CI log never looks stuck.
HEARTBEAT_SECONDS = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class Reading(Generic[T]):
    """One read and what the loop needs of it: the line said, the reason a timeout quotes, whether it is final."""

    value: T
    line: str
    reason: str
    final: bool


@dataclass(frozen=True)
class Polled(Generic[T]):
    """How polling ended: the last read, and why time ran out (None when that read was final)."""

    last: T
    note: str | None


def poll(
    read: Callable[[], Reading[T]],
    *,
    app: str,
    interval: float,
    deadline: Deadline,
    timed_out: str,
    say: Callable[[str], None],
    sleep: Callable[[float], None] | None = None,
) -> Polled[T]:
    """Read until a read is final or the deadline passes; `timed_out` opens the note of a timeout.

    `sleep` waits between reads: by default the sleep of the clock waits run on (`edges/clock`).
    """
    sleep = sleep or clock.current().sleep
    last: Reading[T] | None = None
    last_said, said_at = "", 0.0
    while True:
        try:
            last = read()
        except Unavailable as error:
            if last is None:
                raise  # never read: no verdict, so no outcome (deploy.yml then rolls nothing back)
            note = f"{timed_out}; the Kubernetes API stayed unavailable after the last read: {error.message}"
            return Polled(last.value, note)
        now = deadline.elapsed()
        if last.line != last_said or now - said_at >= HEARTBEAT_SECONDS:
            say(f"[{now:6.1f}s] {app}: {last.line}")
            last_said, said_at = last.line, now
        if last.final:
            return Polled(last.value, None)
        if not deadline.expired():
            sleep(min(interval, max(deadline.remaining(), 0.0)))
        if deadline.expired():
            return Polled(last.value, f"{timed_out}; last: {last.reason}")
