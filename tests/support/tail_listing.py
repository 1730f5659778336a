"""Watching promote's two tag listings through the fault proxy: which request lists the tail, and a hold that
keeps the full listing from outrunning the tail (pipelines/images/prefetch.py)."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs

from kit.fault_proxy import Fault


def is_tail(entry: Any) -> bool:
    """Whether a logged request lists the tail: after a CalVer stamp, not after a tag a Link named."""
    last = parse_qs(entry.query).get("last", [""])[0]
    return re.fullmatch(r"[0-9]{4}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}", last) is not None


def hold_the_second_page_for_the_tail(proxy: Any, area: Any, project: str = "percolate") -> None:
    """The full listing's second page waits until the tail's first page is answered: the tail is not outrun."""

    def until_the_tail_is_answered() -> None:
        for _ in range(1000):
            if any(is_tail(entry) for entry in proxy.log):
                return
            time.sleep(0.01)

    end_of_first_page = sorted(area.tags(project), reverse=proxy.newest_first)[proxy.page_size - 1]
    proxy.add(Fault("before", "GET", "/tags/list", run=until_the_tail_is_answered, query=f"last={end_of_first_page}"))
