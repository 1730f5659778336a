"""`Background`: a call run in a thread, its value or its error handed to the caller; `at_once`: calls run together."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.core.errors import Unavailable
from pipelines.edges.background import Background, at_once


def test_the_value_is_handed_over_and_the_call_ran_in_another_thread():
    ran_in: list[threading.Thread] = []

    def call() -> int:
        ran_in.append(threading.current_thread())
        return 42

    assert Background(call).result() == 42
    assert ran_in and ran_in[0] is not threading.current_thread()


def test_the_exception_is_raised_in_the_caller():
    def call() -> None:
        raise Unavailable("registry gone", hint="try later")

    with pytest.raises(Unavailable, match="registry gone"):
        Background(call).result()


def test_leaving_the_block_on_an_error_waits_for_the_call():
    release = threading.Event()
    finished = threading.Event()

    def call() -> None:
        release.wait(timeout=10)
        time.sleep(0.2)  # still running when the caller's error leaves the block
        finished.set()

    with pytest.raises(ValueError), Background(call):
        release.set()
        raise ValueError("the caller failed meanwhile")
    assert finished.is_set()  # a client the call uses is closed only after this point


def test_calls_at_once_run_together_and_give_their_values_in_order():
    both_started = threading.Barrier(2, timeout=10)  # each call waits for the other: they run at the same time

    def call(value: int) -> int:
        both_started.wait()
        return value

    assert at_once([lambda: call(1), lambda: call(2)]) == [1, 2]
    assert at_once([]) == []


def test_at_once_raises_the_first_error_by_order_once_every_call_has_finished():
    finished = threading.Event()

    def slow_failure() -> None:
        time.sleep(0.2)
        raise Unavailable("the first call failed", hint="try later")

    def quick_failure() -> None:
        raise ValueError("the second call failed first")

    def slow_success() -> None:
        time.sleep(0.3)
        finished.set()

    with pytest.raises(Unavailable, match="the first call failed"):
        at_once([slow_failure, quick_failure, slow_success])
    assert finished.is_set()
