"""The health gate's one poll loop (pipelines.health.poll) on an injected clock: no real waits.

A read is scripted as a Reading, or an Unavailable raised; a read may take time on the clock
(the cluster edge's retries wait an outage out until the deadline). Each case has a control
that shows the assertion can fail: the same script with one thing changed gives another end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from pipelines.core.errors import Unavailable
from pipelines.edges.retry import Deadline
from pipelines.health import poll as poll_module
from pipelines.health.poll import Polled, Reading, poll

TIMED_OUT = "not healthy within 100s"


@dataclass
class Clock:
    """A monotonic clock that only moves when the loop sleeps or a read takes time."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Script:
    """Reads in order: a Reading, or an Unavailable; `takes` moves the clock during the read at that index."""

    clock: Clock
    reads: list[Reading[int] | Unavailable]
    takes: dict[int, float] = field(default_factory=dict)
    count: int = 0

    def __call__(self) -> Reading[int]:
        index = min(self.count, len(self.reads) - 1)  # the last entry repeats
        self.clock.now += self.takes.get(self.count, 0.0)
        self.count += 1
        entry = self.reads[index]
        if isinstance(entry, Unavailable):
            raise entry
        return entry


def waiting(value: int = 0, reason: str = "progressing") -> Reading[int]:
    return Reading(value, f"Progressing - {reason}", reason, final=False)


def done(value: int = 9) -> Reading[int]:
    return Reading(value, "Healthy - running the digest", "running the digest", final=True)


def run(script: Script, *, seconds: float = 100.0, interval: float = 10.0) -> tuple[Polled[int], list[str]]:
    said: list[str] = []
    deadline = Deadline(seconds, clock=script.clock)
    polled = poll(
        script,
        app="app",
        interval=interval,
        deadline=deadline,
        timed_out=TIMED_OUT,
        say=said.append,
        sleep=script.clock.sleep,
    )
    return polled, said


def test_an_unchanged_state_is_said_once_per_heartbeat_and_a_change_at_once():
    clock = Clock()
    reads: list[Reading[int] | Unavailable] = [waiting()] * 7 + [waiting(reason="step 2")] * 3 + [done()]
    polled, said = run(Script(clock, reads), seconds=200.0)
    assert polled == Polled(9, None)
    assert said == [
        "[   0.0s] app: Progressing - progressing",
        "[  30.0s] app: Progressing - progressing",
        "[  60.0s] app: Progressing - progressing",
        "[  70.0s] app: Progressing - step 2",  # a change: at once, and the heartbeat counts from here
        "[ 100.0s] app: Healthy - running the digest",
    ]
    assert clock.sleeps == [10.0] * 10


def test_control_without_the_heartbeat_an_unchanged_state_is_said_only_once(monkeypatch):
    monkeypatch.setattr(poll_module, "HEARTBEAT_SECONDS", math.inf)
    reads: list[Reading[int] | Unavailable] = [waiting()] * 7 + [done()]
    _, said = run(Script(Clock(), reads))
    assert said == ["[   0.0s] app: Progressing - progressing", "[  70.0s] app: Healthy - running the digest"]


def test_the_deadline_ends_polling_as_a_timeout_quoting_the_last_reason_and_no_sleep_passes_it():
    clock = Clock()
    script = Script(clock, [waiting(3, "waiting for the sync")])
    polled, _ = run(script, seconds=95.0)
    assert polled == Polled(3, f"{TIMED_OUT}; last: waiting for the sync")
    assert clock.sleeps == [10.0] * 9 + [5.0]  # the last sleep is cut to the deadline
    assert clock.now == 95.0 and script.count == 10  # no read after the deadline


def test_control_a_final_read_before_the_deadline_is_no_timeout():
    clock = Clock()
    script = Script(clock, [waiting()] * 9 + [done(4)])
    polled, _ = run(script, seconds=95.0)
    assert polled == Polled(4, None)
    assert clock.now == 90.0


def test_an_outage_after_the_first_read_is_waited_out_and_ends_as_a_timeout_keeping_the_last_read():
    clock = Clock()
    # The second read's retries run until the deadline before the edge gives up.
    script = Script(clock, [waiting(5, "syncing"), Unavailable("connection refused")], takes={1: 90.0})
    polled, said = run(script)
    assert polled == Polled(
        5, f"{TIMED_OUT}; the Kubernetes API stayed unavailable after the last read: connection refused"
    )
    assert script.count == 2 and clock.sleeps == [10.0]  # nothing after the outage: the deadline is spent
    assert said == ["[   0.0s] app: Progressing - syncing"]


def test_control_the_same_outage_on_the_first_read_fails_at_once_without_a_verdict():
    clock = Clock()
    script = Script(clock, [Unavailable("connection refused"), waiting()])
    with pytest.raises(Unavailable, match="connection refused"):
        run(script)
    assert script.count == 1 and clock.sleeps == [] and clock.now == 0.0
