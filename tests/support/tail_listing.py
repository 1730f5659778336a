"""Promote's two tag listings through the fault proxy (pipelines/images/prefetch.py): a dated release and its builds,
which request lists the tail, and a hold on the full listing's last page so that it cannot end before the tail is
seen. Shared by tests/images/test_tail_listing.py and test_tail_attacks.py, and the staging tests.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from kit.fault_proxy import Fault
from kit.git import git
from pipelines.core.catalog import get_project
from pipelines.edges.retry import RetryPolicy

PROJECT = "percolate"
TAG = "percolate-v0.1.0"
PLATFORMS = get_project(PROJECT).platforms
COMMITTED = "2025-10-25T12:00:00+00:00"
TAIL_START = "2025.10.24.1200"  # the boundary: the CalVer stamp a day before COMMITTED
ASKED = "2025.10.23.1200"  # what the tail is asked after: a day before the boundary
FAST = RetryPolicy(max_time=30, base_delay=0.01, max_delay=0.05)


def dated_release(monorepo: Any, at: str = COMMITTED) -> str:
    """The release commit, made at `at`, with TAG on it; returns its SHA."""
    git(monorepo.root, "commit", "-q", "--allow-empty", "-m", "release", at=at)
    monorepo.tag(TAG)
    return monorepo.head


def push_builds(area: Any, sha: str) -> dict[str, Any]:
    """Six builds of 0.0.9, a day apart (the last one the day before the boundary, after ASKED: the tail's answer
    reaches back past the boundary), and an older complete build of 0.1.0 from another commit; after the commit,
    0.1.0's complete build 7 and its newer incomplete build 8. Returns build 7.

    The builds of 0.0.9 only fill the list: each platform's one image is pushed once and tagged for every build
    (a manifest PUT each), where a build of its own per tag would take a dozen requests and a gzip."""
    filler = area.push_build(PROJECT, sha=sha, number=1, version="0.0.9", at="2025-10-19T10:00:00+00:00")
    for number in range(2, 7):
        at = f"2025-10-{18 + number}T10:00:00+00:00"
        for arch, pushed in filler.items():
            tag = area.build_tag(version="0.0.9", sha=sha, number=number, at=at, arch=arch)
            area.pusher.manifest(area.repository(PROJECT), tag, pushed)
    area.push_build(PROJECT, sha="0bd0000", number=9, at="2025-10-20T18:00:00+00:00")
    complete = area.push_build(PROJECT, sha=sha, number=7, at="2025-10-25T13:00:00+00:00")
    area.push_build(PROJECT, sha=sha, number=8, at="2025-10-25T14:00:00+00:00", arches=("amd64",))
    return complete


def promote(cli: Any, area: Any, monorepo: Any, env: dict[str, str], proxy: Any) -> Any:
    """`promote TAG --json` through `proxy`."""
    return cli("promote", TAG, "--registry", area.registry(proxy.host), "--root", str(monorepo.root), "--json", env=env)


def assert_promoted_build_7(result: Any, area: Any, complete: dict[str, Any]) -> None:
    """Promote chose push_builds' build 7 (skipping the incomplete 8) and the release tags hold its images."""
    assert result.code == 0, result.stderr
    assert result.json()["source"].startswith("2025.10.25.1300-build.7-")
    assert any("build.8-" in skipped for skipped in result.json()["skipped_builds"])
    assert {arch: area.digest(PROJECT, f"0.1.0-{arch}") for arch in PLATFORMS} == {
        arch: pushed.digest for arch, pushed in complete.items()
    }


def is_stamp(text: str) -> bool:
    """Whether `text` is a CalVer stamp, as the tail's `last` is (a tag a Link named never is)."""
    return re.fullmatch(r"[0-9]{4}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}", text) is not None


def is_tail(entry: Any) -> bool:
    """Whether a logged request lists the tail: after a CalVer stamp, not after a tag a Link named."""
    return is_stamp(parse_qs(entry.query).get("last", [""])[0])


def tails_asked(proxy: Any) -> list[str]:
    """The `last` of each tail request the proxy answered, in order."""
    return [parse_qs(entry.query)["last"][0] for entry in proxy.log if is_tail(entry)]


def hold_the_full_listings_last_page(proxy: Any, area: Any, until: Callable[[], bool], project: str = PROJECT) -> None:
    """The full listing's last page waits until `until()` (at most 10 s), so that it cannot end first and decide:
    the tail, sent after the full listing's first page, is seen through whatever the machine's load."""

    def waiting() -> None:
        for _ in range(1000):
            if until():
                return
            time.sleep(0.01)

    tags = sorted(area.tags(project), reverse=proxy.newest_first)
    end_of_the_page_before = tags[(len(tags) - 1) // proxy.page_size * proxy.page_size - 1]
    query = f"last={end_of_the_page_before}&listing=whole"  # not a page of the tail that ends at the same tag
    proxy.add(Fault("before", "GET", "/tags/list", run=waiting, query=query))


def tail_answered(proxy: Any) -> Callable[[], bool]:
    """The proxy has answered a tail request (whatever its answer): for a tail that must not hold the choice."""
    return lambda: any(is_tail(entry) for entry in proxy.log)


def release_tag_checked(proxy: Any, tag: str = "0.1.0-amd64") -> Callable[[], bool]:
    """Promote checks the release tags once it has chosen: with the full listing held, it chose from the tail."""
    return lambda: proxy.count("HEAD", f"/manifests/{tag}") > 0
