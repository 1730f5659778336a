"""Watching promote's two tag listings through the fault proxy: which request lists the tail, and a hold on the
full listing's last page so that it cannot end before the tail is seen (pipelines/images/prefetch.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from kit.fault_proxy import Fault


def is_tail(entry: Any) -> bool:
    """Whether a logged request lists the tail: after a CalVer stamp, not after a tag a Link named."""
    last = parse_qs(entry.query).get("last", [""])[0]
    return re.fullmatch(r"[0-9]{4}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}", last) is not None


def hold_the_full_listings_last_page(
    proxy: Any, area: Any, until: Callable[[], bool], project: str = "percolate"
) -> None:
    """The full listing's last page waits until `until()` (at most 10 s), so that it cannot end first and decide:
    the tail, sent after the full listing's first page, is seen through whatever the machine's load."""

    def waiting() -> None:
        for _ in range(1000):
            if until():
                return
            time.sleep(0.01)

    tags = sorted(area.tags(project), reverse=proxy.newest_first)
    end_of_the_page_before = tags[(len(tags) - 1) // proxy.page_size * proxy.page_size - 1]
    proxy.add(Fault("before", "GET", "/tags/list", run=waiting, query=f"last={end_of_the_page_before}"))


def tail_answered(proxy: Any) -> Callable[[], bool]:
    return lambda: any(is_tail(entry) for entry in proxy.log)


def release_tag_checked(proxy: Any, tag: str = "0.1.0-amd64") -> Callable[[], bool]:
    """Promote checks the release tags once it has chosen: with the full listing held, it chose from the tail."""
    return lambda: proxy.count("HEAD", f"/manifests/{tag}") > 0
