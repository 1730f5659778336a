"""Second round of adversarial tests of the tail listing, the new `stop` path and the final read-back.

Everything here is in-process and needs no registry: a RegistryClient whose `_request` is answered by a
scripted registry (`ScriptedRegistry`: sorted tags, pages of `page_size`, `last` honoured or mishandled as a
test says), a fake client for `write_release_tags`, and the Retrier with an injected sleep. Each test says
what it attacks and what it found.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from pipelines.core.calver import make_build_tag
from pipelines.core.catalog import get_project
from pipelines.core.errors import RuleRefused, Unavailable
from pipelines.core.versions import parse_release
from pipelines.edges.http_rules import Headers, Response, is_clean_credential
from pipelines.edges.retry import Deadline, Retrier, Retry, RetryPolicy
from pipelines.images.prefetch import Prefetch, tail_bounds
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.location import parse_registry
from pipelines.images.rules import choose_build

PLATFORMS = get_project("percolate").platforms
VERSION = parse_release("0.1.0")
COMMITTED_AT = datetime(2025, 10, 25, 12, tzinfo=UTC)
ASKED, BOUNDARY = tail_bounds(COMMITTED_AT)  # 2025.10.23.1200, 2025.10.24.1200
REPOSITORY = "test/percolate"


def build_tags(at: datetime, number: int, *, version: str = "0.1.0", arches: tuple[str, ...] = PLATFORMS) -> list[str]:
    return [
        make_build_tag(version=version, sha="abc1234", arch=arch, build=number, at=at).tag for arch in sorted(arches)
    ]


def repository_tags() -> list[str]:
    """Older filler (0.0.9, a build every 3 hours from 2025-10-20, so that a day before the boundary holds 8
    of its builds), an old complete 0.1.0 build 3, the release commit's complete build 7 after the boundary,
    its complete build 9 later still (the newest complete), and an incomplete build 10."""
    tags = ["0.0.9", "0.0.9-amd64", "latest"]
    start = datetime(2025, 10, 20, tzinfo=UTC)
    for n in range(1, 40):
        tags += build_tags(start + timedelta(hours=3 * n), n, version="0.0.9")
    tags += build_tags(datetime(2025, 10, 21, 9, 30, tzinfo=UTC), 3)
    tags += build_tags(datetime(2025, 10, 25, 13, tzinfo=UTC), 7)
    tags += build_tags(datetime(2025, 10, 25, 15, tzinfo=UTC), 9)
    tags += build_tags(datetime(2025, 10, 25, 16, tzinfo=UTC), 10, arches=("amd64",))
    return sorted(tags)


class ScriptedRegistry:
    """Answers tag lists as the distribution API does (lexical order, pages of `page_size`, `last` exclusive, a
    `Link` to the next page), with the hooks a test sets; every other request is answered 404."""

    def __init__(self, tags: list[str], page_size: int = 12) -> None:
        self.tags = sorted(tags)
        self.page_size = page_size
        self.log: list[str] = []
        self.lock = threading.Lock()
        # (last as asked, the registry's answer) -> the answer a buggy registry gives instead
        self.mangle: Callable[[str | None, list[str]], list[str]] = lambda last, page: page
        self.link_on_last_queries = True  # False: a `last` the client composed gets no Link, however full the page
        self.before_full_last_page: Callable[[], None] = lambda: None
        self.before_tail: Callable[[], None] = lambda: None
        self.unavailable: Callable[[str | None, bool], bool] = lambda last, composed: False  # answer 429 instead

    def answer(self, url: str) -> Response:
        parts = urlsplit(url)
        params = parse_qs(parts.query)
        with self.lock:
            self.log.append(url)
        if not parts.path.endswith("/tags/list"):
            return Response(404, "Not Found", Headers(), b"{}", url)
        last = params.get("last", [None])[0]
        start = bisect.bisect_right(self.tags, last) if last is not None else 0
        page = self.tags[start : start + self.page_size]
        more = start + self.page_size < len(self.tags)
        composed = last is not None and "linked" not in params  # the client's own `last`, not a Link's
        if composed:
            self.before_tail()
        if self.unavailable(last, composed):
            return Response(429, "Too Many Requests", Headers([("Retry-After", "30")]), b"{}", url)
        if composed:
            page = self.mangle(last, page)
        if last is not None and not composed and not more and "whole" in params:
            self.before_full_last_page()
        headers = [("Content-Type", "application/json")]
        if more and page and (self.link_on_last_queries or not composed):
            kind = "whole" if last is None or "whole" in params else "tail"
            headers.append(
                ("Link", f'</v2/{REPOSITORY}/tags/list?n=1000&last={quote(page[-1])}&linked=1&{kind}=1>; rel="next"')
            )
        body = json.dumps({"name": REPOSITORY, "tags": page}).encode()
        return Response(200, "OK", Headers(headers), body, url)


class ScriptedClient(RegistryClient):
    def __init__(self, registry: ScriptedRegistry) -> None:
        super().__init__(parse_registry("127.0.0.1:9/test"), policy=RetryPolicy(max_time=60, base_delay=0.001))
        self.registry = registry

    def _request(self, kind: str, method: str, url: str, repository: str, **options: Any) -> Response:
        """As the HTTP layer sends: 429 and 5xx retried under the client's one Retrier, `stop` passed on."""

        def attempt() -> Response | Retry:
            self.stats.count(kind)
            response = self.registry.answer(url)
            if response.status in (429, 503):
                return Retry(f"HTTP {response.status}", float(response.headers.get("Retry-After", "0")))
            return response

        return self._http.retrier.run(attempt, f"GET {url}", "hint", stop=options.get("stop"))


def listing_of(registry: ScriptedRegistry) -> Any:
    """What promote's Prefetch goes by, with the full listing's last page held until the tail has ended (so that the
    tail is always seen: no race decides which listing promote goes by)."""
    client = ScriptedClient(registry)
    holder: dict[str, Prefetch] = {}
    started = threading.Event()

    def hold() -> None:
        started.wait(2)
        tail = holder["prefetch"]._tail
        for _ in range(200):
            if tail is None or tail.done():
                return
            time.sleep(0.005)

    registry.before_full_last_page = hold
    with Prefetch(client, REPOSITORY, VERSION, PLATFORMS, committed_at=lambda: COMMITTED_AT) as prefetch:
        holder["prefetch"] = prefetch
        started.set()
        return prefetch.listing()


def full_choice(registry: ScriptedRegistry) -> str:
    return choose_build(registry.tags, VERSION, PLATFORMS).build.name


# -- the tail's answer -----------------------------------------------------------------------------------------------


def test_an_honest_registry_lets_the_tail_decide_as_the_full_listing():
    """The control: the scripted registry's tail reaches back past the boundary and holds the choice (build 9)."""
    registry = ScriptedRegistry(repository_tags())
    listing = listing_of(registry)
    assert listing.after == BOUNDARY
    assert choose_build(listing.tags, VERSION, PLATFORMS).build.name == full_choice(registry)
    assert "build.9-" in full_choice(registry)


# ATTACK: a registry that answers a `last` that is no tag off by more than one: it drops the first K tags after it
# (K up to 30, beyond the day before the boundary's tags), on the tail's first page only. Found nothing: while the
# first tag left is at or before the boundary, the dropped ones are all before it; once it is after, the tail does
# not count and the full listing decides. Either way the choice is the full listing's.
@pytest.mark.parametrize("dropped", [1, 2, 5, 16, 17, 30])
def test_a_tail_off_by_many_tags_still_chooses_as_the_full_listing(dropped):
    registry = ScriptedRegistry(repository_tags(), page_size=40)
    registry.mangle = lambda last, page: page[dropped:]
    listing = listing_of(registry)
    assert choose_build(listing.tags, VERSION, PLATFORMS).build.name == full_choice(registry)
    between = [tag for tag in registry.tags if ASKED < tag <= BOUNDARY]
    assert (listing.after == BOUNDARY) is (dropped < len(between))  # the tail counted only while it reached back


# ATTACK: the tail's first page starts with a stamp-like tag at the boundary itself, or a lookalike tag between `last`
# and the boundary that is no build tag (`2025.10.23.9999-junk`), and the registry drops everything else before the
# boundary. Found nothing: such a first tag does show where the registry's answer starts, and every dropped tag is
# before it.
@pytest.mark.parametrize("first", [BOUNDARY, "2025.10.23.9999-junk", ASKED + "0"])
def test_a_tail_whose_first_tag_is_a_lookalike_chooses_as_the_full_listing(first):
    registry = ScriptedRegistry([*repository_tags(), first], page_size=40)
    registry.mangle = lambda last, page: [tag for tag in page if tag == first or tag > BOUNDARY]
    listing = listing_of(registry)
    assert listing.after == BOUNDARY
    assert choose_build(listing.tags, VERSION, PLATFORMS).build.name == full_choice(registry)


# FINDING: a registry that honours `n` and `last` but sends no `Link` for a `last` the client composed (it paginates
# only the listings it started itself) answers the tail with one full page and no Link. The tail is then "complete",
# it reaches back past the boundary, and its page holds build 7 but not the newest complete build 9, which is on the
# next page: promote promotes build 7 where the full listing (whose Links this registry does send) chooses build 9.
# The docs say a registry that leaves tags out is trusted as much as with the full listing alone; here the full
# listing alone would be right: the tail trusts one thing more, the pagination of a query the client composed.
# Suggested fix (prefetch.py `_tail_holding_the_choice`, or client.py `_list` for `after`): a tail whose last page is
# as full as the registry's pages (at least as many tags as the full listing's first page held, or as `n`) and has no
# Link is not shown to be complete: refuse it (return None), as a tail that stopped early is.
def test_a_tail_cut_at_a_full_page_without_a_link_chooses_as_the_full_listing():
    tags = repository_tags()
    registry = ScriptedRegistry(tags, page_size=26)
    start = bisect.bisect_right(tags, ASKED)
    build_9 = next(i for i, tag in enumerate(tags) if "-build.9-v0.1.0" in tag)
    build_7 = next(i for i, tag in enumerate(tags) if "-build.7-v0.1.0" in tag)
    assert start + 26 > build_7 + 1 and start + 26 <= build_9  # the tail's first page ends between builds 7 and 9
    registry.link_on_last_queries = False
    listing = listing_of(registry)
    assert choose_build(listing.tags, VERSION, PLATFORMS).build.name == full_choice(registry)


# ATTACK: the listing that is not chosen is in the middle of a 429's 30 s Retry-After when the other decides (the full
# listing's second page, when the tail holds the choice; the tail's first page, when the full listing is in first).
# Its stopped request must neither reach promote (an error, an exit code) nor hold the end of the run. Found nothing:
# `listing()` returns the other listing, and the Prefetch's exit (which waits for both threads) comes within a poll
# step or so, not 30 s; the stopped listing's "no longer needed" stays in its thread.
@pytest.mark.parametrize("retrying", ["full", "tail"])
def test_a_listing_stopped_in_a_retry_after_neither_fails_nor_holds_the_run(retrying):
    registry = ScriptedRegistry(repository_tags(), page_size=40)
    if retrying == "full":
        registry.unavailable = lambda last, composed: last is not None and not composed

        def after_the_full_listings_429() -> None:  # the tail is answered once the full listing is waiting
            for _ in range(200):
                if any("whole=1" in url for url in registry.log):
                    time.sleep(0.02)
                    return
                time.sleep(0.005)

        registry.before_tail = after_the_full_listings_429
    else:
        registry.unavailable = lambda last, composed: composed

        def after_the_tails_429() -> None:  # the full listing ends once the tail is waiting
            for _ in range(200):
                if any("last=" in url and "linked" not in url for url in registry.log):
                    time.sleep(0.02)
                    return
                time.sleep(0.005)

        registry.before_full_last_page = after_the_tails_429
    client = ScriptedClient(registry)
    began = time.monotonic()
    with Prefetch(client, REPOSITORY, VERSION, PLATFORMS, committed_at=lambda: COMMITTED_AT) as prefetch:
        listing = prefetch.listing()
        decided = time.monotonic() - began
    ended = time.monotonic() - began
    assert (listing.after == BOUNDARY) is (retrying == "full")
    assert listing.complete
    assert choose_build(listing.tags, VERSION, PLATFORMS).build.name == full_choice(registry)
    assert decided < 1 and ended < 1
    waited = [url for url in registry.log if ("whole=1" in url) is (retrying == "full") and "last=" in url]
    assert waited  # the listing that lost was answered 429 (Retry-After: 30) and was waiting when stopped


# -- the Retrier's stop ------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def retrier(clock: Clock, *, max_time: float = 300, max_attempts: int = 8) -> Retrier:
    policy = RetryPolicy(max_time=max_time, max_attempts=max_attempts, base_delay=0.5, max_delay=30)
    return Retrier(policy, Deadline(max_time, clock), sleep=clock.sleep, rng=_Fixed())


class _Fixed:
    def random(self) -> float:
        return 0.5


# ATTACK: the Retrier is shared by every client; with `stop=None` it must behave exactly as before: one sleep of the
# whole delay per retry (Retry-After included), no polling. Found nothing.
def test_without_stop_the_retrier_sleeps_each_delay_whole():
    clock = Clock()
    outcomes = iter([Retry("HTTP 503", 7.0), Retry("HTTP 503"), Retry("HTTP 429", 0.0), "answer"])
    assert retrier(clock).run(lambda: next(outcomes), "GET /x", "hint") == "answer"
    assert clock.slept == [7.0, 0.75, 1.5]


# ATTACK: a stop that flips between an attempt and its Retry-After (the other listing decided while this one's 429
# came back asking for 120 s), or on the last permitted attempt. Found nothing: no wait at all, no further attempt,
# and the error (swallowed by the listing that lost) is the retrier's own words, never the registry's answer.
@pytest.mark.parametrize("max_attempts", [8, 1])
def test_a_stop_between_an_attempt_and_its_retry_after_waits_for_nothing(max_attempts):
    clock = Clock()
    stopped = threading.Event()
    attempts = []

    def attempt() -> Retry:
        attempts.append(clock.now)
        stopped.set()  # the other listing decides while this answer is on its way
        return Retry("HTTP 429 (TOOMANYREQUESTS: secret-ish body)", 120.0)

    with pytest.raises(Unavailable) as raised:
        retrier(clock, max_attempts=max_attempts).run(attempt, "GET /tags", "hint", stop=stopped.is_set)
    assert attempts == [0.0] and clock.slept == []
    if max_attempts > 1:
        assert "stopped: no longer needed" in str(raised.value) and "secret-ish" not in str(raised.value)


# ATTACK: a stop that flips mid-wait, on the real clock (0.05 s steps): the wait ends within a step, and a Retry-After
# beyond the time limit is refused before any wait, stop or not. Found nothing.
def test_a_stop_mid_wait_ends_it_within_a_step_on_the_real_clock():
    stopped = threading.Event()
    timer = threading.Timer(0.1, stopped.set)
    r = Retrier(RetryPolicy(max_time=60), Deadline(60), rng=_Fixed())  # type: ignore[arg-type]
    timer.start()
    began = time.monotonic()
    with pytest.raises(Unavailable, match="no longer needed"):
        r.run(lambda: Retry("HTTP 503", 30.0), "GET /tags", "hint", stop=stopped.is_set)
    assert time.monotonic() - began < 0.5
    with pytest.raises(Unavailable, match="would pass the time limit"):
        r.run(lambda: Retry("HTTP 429", float("inf")), "GET /tags", "hint", stop=lambda: False)


# -- the final read-back -----------------------------------------------------------------------------------------------


class WritingClient:
    """A registry of tag -> digest for write_release_tags; `after_put(tag)` lets another writer act after a PUT."""

    def __init__(self, held: dict[str, str], heads: Callable[[str, str | None], str | None] | None = None) -> None:
        self.held = dict(held)
        self.heads = heads or (lambda tag, digest: digest)
        self.after_put: Callable[[str], None] = lambda tag: None
        self.lock = threading.Lock()
        self.log: list[tuple[str, str]] = []

    def put_manifest(self, repository: str, tag: str, manifest: Any) -> None:
        with self.lock:
            self.log.append(("PUT", tag))
            self.held[tag] = manifest.digest
        self.after_put(tag)

    def head_manifest(self, repository: str, tag: str) -> str | None:
        with self.lock:
            self.log.append(("HEAD", tag))
            return self.heads(tag, self.held.get(tag))


class _Manifest:
    def __init__(self, digest: str) -> None:
        self.digest = digest


class _Write:
    def __init__(self, tag: str, digest: str) -> None:
        self.tag, self.manifest = tag, _Manifest(digest)


class _Plan:
    def __init__(self, writes: list[_Write], to_write: list[_Write]) -> None:
        self.writes, self.to_write = writes, to_write


def _digest(char: str) -> str:
    return "sha256:" + char * 64


# ATTACK: another writer moves an UNCHANGED platform tag (one this run did not write, so its first read-back skips it)
# right after our index PUT; and, apart, a registry answering the final HEADs with another spelling of the right
# digest (upper-case hex). Found nothing: the final read-back reads every platform tag, written or not, and exits 1
# naming the moved one; a digest spelled otherwise is never taken for the right one (a false alarm, exit 1, never a
# release reported with tags that disagree).
@pytest.mark.parametrize("attack", ["moves-an-unchanged-platform-tag", "upper-case-digest"])
def test_the_final_read_back_names_any_tag_that_moved_or_reads_otherwise(attack):
    from pipelines.images.release import write_release_tags

    amd, arm, index = (
        _Write("0.1.0-amd64", _digest("a")),
        _Write("0.1.0-arm64", _digest("b")),
        _Write("0.1.0", _digest("c")),
    )
    plan = _Plan([amd, arm, index], [arm, index])  # amd64 already held the right digest: unchanged
    if attack == "upper-case-digest":
        client = WritingClient(
            {amd.tag: amd.manifest.digest}, heads=lambda tag, d: d.upper() if d and tag == "0.1.0" else d
        )
    else:
        client = WritingClient({amd.tag: amd.manifest.digest})
        client.after_put = lambda tag: client.held.update({amd.tag: _digest("f")}) if tag == index.tag else None
    with pytest.raises(RuleRefused) as raised:
        write_release_tags(client, REPOSITORY, plan, lambda line: None)  # type: ignore[arg-type]
    moved = "0.1.0-amd64" if attack != "upper-case-digest" else "0.1.0 "
    assert f"release tag {moved}" in str(raised.value)
    assert ("HEAD", amd.tag) in client.log[client.log.index(("PUT", index.tag)) :]


# -- is_clean_credential's fast path -----------------------------------------------------------------------------------


# ATTACK: strings where `isprintable()` and the Cc/Cs rule could disagree: every code point of planes 0 and 1, the tags
# block, and the ends of the private-use planes, alone (format characters
# Cf such as U+200B and U+FEFF, separators Zl/Zp/Zs such as U+2028 and U+00A0, private use, unassigned, surrogates,
# C1 controls such as U+0085), and each mixed into printable text. Found nothing: `isprintable()` true implies no Cc
# or Cs, and the slow path is the rule itself.
def test_is_clean_credential_is_the_cc_cs_rule_for_every_code_point():
    disagree = [
        cp
        for cp in (*range(0x20000), *range(0xE0000, 0xE0200), *range(0xF0000, 0xF0100), *range(0x10FF00, 0x110000))
        if is_clean_credential(chr(cp)) != (unicodedata.category(chr(cp)) not in ("Cc", "Cs"))
    ]
    assert disagree == []
    for odd in ("\u200b", "\ufeff", "\u2028", "\u00a0", "\ue000", "\U000e0001", "\u0378", "\u0085", "\ud800", "\x7f"):
        mixed = f"tok{odd}en"
        assert is_clean_credential(mixed) is (unicodedata.category(odd) not in ("Cc", "Cs"))


class HeadingClient(RegistryClient):
    """A client whose HEAD of a manifest is answered with `spelling` as its Docker-Content-Digest, and whose GET
    answers the manifest's bytes with that header too (as a registry that spells its digests so would)."""

    BODY = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'

    def __init__(self, spelling: str | None) -> None:
        super().__init__(parse_registry("127.0.0.1:9/test"), policy=RetryPolicy(max_time=5))
        self.spelling = spelling

    def _request(self, kind: str, method: str, url: str, repository: str, **options: Any) -> Response:
        headers = [("Content-Type", "application/vnd.oci.image.index.v1+json")]
        if self.spelling is not None:
            headers.append(("Docker-Content-Digest", self.spelling))
        return Response(200, "OK", Headers(headers), b"" if method == "HEAD" else self.BODY, url)


# ATTACK: the final read-back through the real client, with a registry that answers HEAD with another spelling of the
# right digest (upper-case hex, upper-case algorithm, a trailing blank, sha512 of the same bytes) or none. Found
# nothing: a spelling that is not `sha256:` and 64 lower-case hex digits is never compared as if it were one; the
# client reads the manifest and hashes it: the right digest (no header, or another algorithm, which the GET ignores),
# or Corrupt naming the mismatch (a false alarm after the write: exit 1, never a wrong tag reported as right).
@pytest.mark.parametrize("how", ["upper-hex", "upper-algorithm", "trailing-blank", "sha512", "none"])
def test_a_head_spelling_the_digest_otherwise_is_never_taken_for_it(how):
    from pipelines.core.digests import sha256_digest
    from pipelines.core.errors import Corrupt

    right = sha256_digest(HeadingClient.BODY)
    spelling = {
        "upper-hex": "sha256:" + right[7:].upper(),
        "upper-algorithm": "SHA256:" + right[7:],
        "trailing-blank": right + " ",
        "sha512": "sha512:" + "ab" * 64,
        "none": None,
    }[how]
    client = HeadingClient(spelling)
    if how in ("upper-hex", "trailing-blank"):
        with pytest.raises(Corrupt, match="the registry says digest"):
            client.head_manifest(REPOSITORY, "0.1.0")
    else:
        assert client.head_manifest(REPOSITORY, "0.1.0") == right
