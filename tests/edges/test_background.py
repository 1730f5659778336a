"""`Background`: a call run in a thread, its value or its exception handed to the caller."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.core.errors import Unavailable
from pipelines.edges.background import Background


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
