"""`RequestStats`: every request a registry client sent, by kind (retries and re-sends after a 401 included),
and the tag-list pages and blob bytes it read and wrote; what `promote --json` reports and the tests count."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any


class RequestStats:
    """Every request a client sent, by kind; retries and re-sends after a 401 are counted in there too.

    `retries` reads the HTTP layer's own count (every thread's), so it is never a copy that another thread's
    older figure could overwrite.
    """

    def __init__(self, retries: Callable[[], int] = lambda: 0) -> None:
        self.sent: Counter[str] = Counter()
        self._retries = retries
        self.auth_resends = 0
        self.tag_list_pages = 0
        self.blob_bytes_read = 0
        self.blob_bytes_written = 0
        self._lock = threading.Lock()

    def count(self, kind: str) -> None:
        """One request sent; called from every thread that sends for the client."""
        with self._lock:
            self.sent[kind] += 1

    def add(self, name: str, amount: int = 1) -> None:
        """Add to the counter `name` (auth_resends, blob_bytes_read, ...), from any thread."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    @property
    def retries(self) -> int:
        return self._retries()

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_kind": dict(sorted(self.sent.items())),
            "retries": self.retries,
            "auth_resends": self.auth_resends,
            "tag_list_pages": self.tag_list_pages,
            "blob_bytes_read": self.blob_bytes_read,
            "blob_bytes_written": self.blob_bytes_written,
        }
