"""Promote lists the tail of a long tag list: the tags after the release commit's day (pipelines/images/prefetch.py).

The full listing runs beside it and is what promote goes by whenever the tail does not hold a complete build
of the version; the rule that makes the tail enough is a property of the choosing rule, tested here with
hypothesis. The CLI runs through the fault proxy (which pages, and honours `last` as the distribution API
says, or lists newest first as GHCR does) in front of the real registry; skopeo checks what was written.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kit.fault_proxy import Fault
from pipelines.core.calver import make_build_tag, stamp
from pipelines.core.errors import PipelineError
from pipelines.core.versions import parse_release
from pipelines.images.prefetch import tail_bounds
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.location import parse_registry
from pipelines.images.rules import choose_build
from pipelines.staging.record import RECORD_TAG_MARK, referrers_tag
from tests.support.tail_listing import (
    ASKED,
    FAST,
    PLATFORMS,
    PROJECT,
    TAIL_START,
    assert_promoted_build_7,
    dated_release,
    hold_the_full_listings_last_page,
    is_tail,
    promote,
    push_builds,
    release_tag_checked,
    tail_answered,
    tails_asked,
)


def test_the_tail_after_the_release_commits_day_holds_the_choice(cli, area, monorepo, clean_env, fault_proxy):
    """The tail, asked after ASKED, reaches back past the boundary (the 0.0.9 build the day before) and holds a complete
    build: promote chooses from its tags after the boundary, and counts both listings' pages."""
    complete = push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=4)
    hold_the_full_listings_last_page(proxy, area, until=release_tag_checked(proxy))

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert f"3 tags after {TAIL_START} (the release commit's builds and all later) in 2 page(s)" in result.stderr
    assert tails_asked(proxy) == [ASKED]
    requests = result.json()["requests"]
    assert requests["tag_list_pages"] == proxy.count("GET", "/tags/list")  # the full listing's pages counted too


def test_a_registry_listing_newest_first_gets_the_full_listing(cli, area, monorepo, clean_env, fault_proxy):
    """A registry that lists newest first (GHCR): its tail is refused for its order, and the full listing decides."""
    complete = push_builds(area, dated_release(monorepo))
    # As GHCR lists: its answer to `last` is the tags below it, newest first (one page), which hold the old
    # complete build 9: a tail that seems to hold a choice, and is refused for its order.
    proxy = fault_proxy(page_size=15, newest_first=True)
    hold_the_full_listings_last_page(proxy, area, until=tail_answered(proxy))

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert "tags after" not in result.stderr
    assert "17 tags in 2 page(s)" in result.stderr
    assert tails_asked(proxy) == [ASKED]


def test_builds_older_than_their_commit_by_over_a_day_are_found_in_the_full_listing(
    cli, area, monorepo, clean_env, fault_proxy
):
    """A committer's clock two days ahead: the tail holds no build of the version, the full listing does."""
    complete = push_builds(area, dated_release(monorepo, at="2025-10-27T12:00:00+00:00"))
    proxy = fault_proxy(page_size=4)
    hold_the_full_listings_last_page(proxy, area, until=tail_answered(proxy))

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert "tags after" not in result.stderr
    assert tails_asked(proxy) == ["2025.10.25.1200"]


def test_a_tail_slow_to_answer_holds_up_nothing(cli, area, monorepo, clean_env, fault_proxy):
    """The full listing decides (the tail holds no build: the commit is two days after them), and promote writes
    while the registry is still answering the tail: its answer waits for the first release tag's PUT."""
    complete = push_builds(area, dated_release(monorepo, at="2025-10-27T12:00:00+00:00"))
    proxy = fault_proxy(page_size=4)

    tail_sent = threading.Event()

    def until_a_release_tag_is_written() -> None:
        tail_sent.set()
        for _ in range(1000):
            if proxy.count("PUT", "/manifests/0.1.0"):
                return
            time.sleep(0.01)

    proxy.add(Fault("before", "GET", "/tags/list", run=until_a_release_tag_is_written, query="last=2025.10.25.1200"))
    hold_the_full_listings_last_page(proxy, area, until=tail_sent.is_set)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    written = min(i for i, entry in enumerate(proxy.log) if entry.method == "PUT")
    assert written < next(i for i, entry in enumerate(proxy.log) if is_tail(entry))  # the tail's answer came after


def test_a_list_of_one_page_sends_no_tail(cli, area, monorepo, clean_env, fault_proxy):
    """A tag list of one page: the full listing is all there is, and the registry is spared a second listing."""
    complete = push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=100)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert proxy.count("GET", "/tags/list") == 1 and not any(is_tail(entry) for entry in proxy.log)


def test_the_client_lists_after_a_tag_only_in_lexical_order(area, monorepo, fault_proxy):
    """`list_tags_after` takes a registry's answer only in lexical order after `last`; `list_tags` stops when told."""
    push_builds(area, dated_release(monorepo))
    repository = area.repository(PROJECT)
    every = sorted(area.tags(PROJECT))
    lexical, newest_first = fault_proxy(page_size=3), fault_proxy(page_size=3, newest_first=True)

    def client(proxy: Any) -> RegistryClient:
        return RegistryClient(parse_registry(area.registry(proxy.host)), policy=FAST)

    with client(lexical) as reader:
        tail = reader.list_tags_after(repository, TAIL_START)
        assert tail is not None and tail.complete
        assert list(tail.tags) == [tag for tag in every if tag > TAIL_START] and tail.after == TAIL_START
        before = reader.stats.tag_list_pages
        stopped = reader.list_tags(repository, stop=lambda: reader.stats.tag_list_pages - before >= 2)
        assert (stopped.tags, stopped.pages, stopped.complete) == (tuple(every[:6]), 2, False)
    with client(newest_first) as reader:
        assert reader.list_tags_after(repository, TAIL_START) is None
        assert reader.stats.tag_list_pages == 1  # refused on its first page
        assert sorted(reader.list_tags(repository).tags) == every  # the full listing still reads every page


# -- the rule that makes the tail enough -------------------------------------------------------------------------

START = datetime(2025, 10, 1, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=3 * 24 * 60)
builds = st.lists(
    st.tuples(
        minutes,
        st.integers(min_value=1, max_value=30),  # build number
        st.sampled_from(["0.1.0", "0.2.0"]),
        st.sampled_from(["abc1234", "def5678"]),
        st.sets(st.sampled_from(PLATFORMS), min_size=1),
    ),
    max_size=25,
)


def tags_of(found: list[tuple[int, int, str, str, set[str]]]) -> list[str]:
    return [
        make_build_tag(version=version, sha=sha, arch=arch, build=number, at=START + timedelta(minutes=minute)).tag
        for minute, number, version, sha, arches in found
        for arch in sorted(arches)
    ]


@settings(max_examples=300, deadline=None)
@given(found=builds, committed=minutes, drops_the_first=st.booleans())
def test_when_the_tags_after_the_boundary_hold_a_complete_build_they_hold_the_choice_of_the_whole_list(
    found, committed, drops_the_first
):
    """Whatever the tags and the commit's time, and whether the registry drops the first tag after `last` (as
    distribution v3 does for a `last` that is no tag): a tail promote takes chooses as the whole list does."""
    every = sorted([*tags_of(found), "0.1.0", "0.1.0-amd64", "latest", referrers_tag("sha256:" + "a" * 64)])
    asked, boundary = tail_bounds(START + timedelta(minutes=committed))
    answer = [tag for tag in every if tag > asked][1 if drops_the_first else 0 :]  # what the registry answers
    if not answer or answer[0] > boundary:
        return  # not shown to reach back past the boundary: promote goes by the full listing
    newer = [tag for tag in answer if tag > boundary]
    version = parse_release("0.1.0")
    try:
        from_tail = choose_build(newer, version, PLATFORMS)
    except PipelineError:
        return  # no complete build after the boundary: promote goes by the full listing
    assert from_tail == choose_build(every, version, PLATFORMS)


@settings(max_examples=300, deadline=None)
@given(built=minutes, committed=st.integers(min_value=0, max_value=3 * 24 * 60 * 60))
def test_a_stamp_splits_build_tags_at_its_minute(built, committed):
    """A CalVer stamp sorts before the build tags of its minute and after those before; staging records sort after."""
    at = START + timedelta(seconds=committed)
    tag = make_build_tag(version="0.1.0", sha="abc1234", arch="amd64", build=1, at=START + timedelta(minutes=built))
    assert (tag.tag > stamp(at)) is (tag.built_at >= at.replace(second=0, microsecond=0))
    assert referrers_tag("sha256:" + "0" * 64) + RECORD_TAG_MARK > stamp(at)  # staging records' tags: in every tail


@pytest.mark.parametrize("committed", ["2025-10-25T12:00:00+00:00", "2025-10-25T14:00:00+02:00"])
def test_the_tail_is_asked_two_days_and_taken_a_day_before_the_commit_in_utc(committed):
    """The bounds are the CalVer stamps two days and a day before the commit, in UTC whatever its zone."""
    assert tail_bounds(datetime.fromisoformat(committed)) == (ASKED, TAIL_START)
