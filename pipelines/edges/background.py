"""Calls run in threads while the caller goes on: a command starts its slowest read first (`Background`),
and sends independent requests at the same time (`at_once`).

`concurrent.futures` does the same, but importing it costs more than the calls it would
start early (it loads `logging`); the commands that must start fast use this module instead.
A thread per call is cheaper than a pool for the handful of requests a round sends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """Starts `call` in a thread; `result()` waits for it and returns its value or raises its exception.

    As a context manager it waits for the call on the way out, so a caller that fails meanwhile never
    closes a client the call is still using.
    """

    def __init__(self, call: Callable[[], T]) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], T]) -> None:
        try:
            self._value = call()
        except BaseException as error:  # handed to the caller of result(), in its thread
            self._error = error

    def done(self) -> bool:
        """Whether the call has returned or raised (without waiting)."""
        return not self._thread.is_alive()

    def wait(self) -> None:
        """Until the call has returned or raised."""
        self._thread.join()

    def result(self) -> T:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when the call returned

    def __enter__(self) -> Background[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()


def wait_all(runs: Iterable[Background[Any]]) -> None:
    """Until every one of `runs` has returned or raised."""
    for run in runs:
        run.wait()


def at_once(calls: Iterable[Callable[[], T]]) -> list[T]:
    """Run `calls` at the same time, the first in the caller's thread (which would wait idle otherwise) and each
    other in a thread of its own; their values, in the order of the calls.

    Every call has finished before an error is raised, and the error raised is the first by the order of the
    calls, never of their ending: a run that fails gives the same error however its requests are answered.
    """
    calls = list(calls)
    if not calls:
        return []
    runs = [Background(call) for call in calls[1:]]
    try:
        value = calls[0]()
    finally:
        wait_all(runs)
    return [value, *(run.result() for run in runs)]
