"""One call run in a thread while the caller goes on: a command starts its slowest read first.

`concurrent.futures` does the same, but importing it costs more than the call it would
start early (it loads `logging`); a command that prefetches imports this module instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

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
