"""Adversarial tests of the tail listing (pipelines/images/prefetch.py, registry/client.py `list_tags_after`).

Each test says what it attacks and what promote does; every one is a regression test of a finding or of an attack
that found nothing. (Two findings are limits, documented in docs/promotion.md rather than tested: an answer already
on the wire is waited for before the run reports, and two promotes of different builds can still overwrite each
other's platform tags when one stalls between its check and its PUT for longer than the other's whole write phase.)
Everything runs on 127.0.0.1: the CLI (in-process) or the library talks to the fault proxy in front of
the real Debian docker-registry; a few attacks answer the tail in the proxy's place (`answer_tails`, through its
`tag_pages` hook). Where a test says which listing decides, the full listing's last page is held until the tail is
answered (a tail that must not count) or until promote checks the release tags (a tail that holds the choice).
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests

from kit.fault_proxy import Fault
from kit.git import git
from pipelines.core.catalog import get_project
from pipelines.core.errors import PipelineError, RuleRefused
from pipelines.core.versions import parse_release
from pipelines.images.prefetch import Prefetch
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.location import parse_registry
from pipelines.images.release import promote_release
from tests.support.tail_listing import (
    ASKED,
    FAST,
    PLATFORMS,
    PROJECT,
    TAG,
    TAIL_START,
    assert_promoted_build_7,
    dated_release,
    hold_the_full_listings_last_page,
    is_stamp,
    is_tail,
    promote,
    push_builds,
    release_tag_checked,
    tail_answered,
    tails_asked,
)

USER, PASSWORD = "ci-bot", "Tail-s3cret-Pa55word"
VERSION = parse_release("0.1.0")
COMMITTED_AT = datetime(2025, 10, 25, 12, tzinfo=UTC)


# -- helpers -------------------------------------------------------------------------------------------------------


def upstream_tags(proxy: Any, repository: str) -> list[str]:
    """Every tag of `repository`, straight from the registry, in lexical order."""
    return sorted(requests.get(f"http://{proxy.upstream}/v2/{repository}/tags/list", timeout=10).json()["tags"])


def answer_tails(proxy: Any, answer: Callable[[Any, str, dict[str, list[str]]], str | None]) -> None:
    """Let `answer(handler, repository, params)` answer the proxy's tag-list requests that carry `last` (the tail's
    first page, and any page after it that this answer linked with `&tail=1`); None: the proxy answers as usual."""

    def tail_pages(handler: Any, repository: str, params: dict[str, list[str]]) -> str | None:
        last = params.get("last", [None])[0]
        if last is not None and (is_stamp(last) or "tail" in params):
            return answer(handler, repository, params)
        return None

    proxy.tag_pages = tail_pages


def page(handler: Any, repository: str, tags: list[str], link: str | None = None, status: int = 200) -> str:
    headers = {"Content-Type": "application/json"}
    if link is not None:
        headers["Link"] = f'<{link}>; rel="next"'
    return handler._send(status, headers, json.dumps({"name": repository, "tags": tags}).encode())


def tail_link(repository: str, last: str) -> str:
    return f"/v2/{repository}/tags/list?n=1000&last={quote(last)}&tail=1"


def tail_requests(proxy: Any) -> list[Any]:
    return [entry for entry in proxy.log if is_tail(entry) or "tail=1" in entry.query]


def release_digests(area: Any) -> dict[str, str]:
    present = set(area.tags(PROJECT))
    return {tag: area.digest(PROJECT, tag) for tag in ("0.1.0-amd64", "0.1.0-arm64", "0.1.0") if tag in present}


def client_for(area: Any, proxy: Any, **options: Any) -> RegistryClient:
    return RegistryClient(parse_registry(area.registry(proxy.host)), policy=FAST, **options)


def wait_for(condition: Callable[[], bool]) -> None:
    """Until `condition()` holds, at most 10 s (then the test's own assertions say what went wrong)."""
    for _ in range(1000):
        if condition():
            return
        time.sleep(0.01)


# -- hostile or buggy registries: what the tail's pages hold -------------------------------------------------------


# A registry that drops the first tag after `last` when `last` is not itself a tag, as distribution v3's handler
# (registry/handlers/tags.go, some versions) does with `tags[sort.SearchStrings(tags, last)+1:]`; promote's `last` is
# a CalVer stamp, never a tag: promote still chooses the newest complete build. Two builds of the release commit
# stamped in the same minute after the boundary (build.10 sorts before build.9 as text) would lose build 10's amd64
# tag if the tail began at the boundary. Asked a day earlier, the tag dropped is the day before's (a 0.0.9 build):
# the answer still reaches back past the boundary and the tail chooses build 10. After a quiet day (no tag between
# `last` and the boundary) the tag dropped is build 10's: the answer starts after the boundary, so it does not count,
# and the full listing chooses build 10.
@pytest.mark.parametrize("quiet_day", [False, True], ids=["a-build-the-day-before", "a-quiet-day-before"])
def test_a_tail_that_drops_the_first_tag_after_last_does_not_change_the_build(
    cli, area, monorepo, clean_env, fault_proxy, quiet_day
):
    sha = dated_release(monorepo)
    for number in range(1, 7):  # older tags, so that the list has pages; the last between ASKED and the boundary
        at = f"2025-10-20T1{number}:00:00+00:00" if quiet_day else f"2025-10-{18 + number}T10:00:00+00:00"
        area.push_build(PROJECT, sha=sha, number=number, version="0.0.9", at=at)
    newest = {}
    for number in (9, 10):  # one minute, two runs of the RC workflow on the release commit; 10 is the newer
        newest = area.push_build(PROJECT, sha=sha, number=number, at="2025-10-24T12:30:00+00:00")
    proxy = fault_proxy(page_size=8)  # the full listing's pages: the tail's answer, one page, is shorter
    until = tail_answered(proxy) if quiet_day else release_tag_checked(proxy)
    hold_the_full_listings_last_page(proxy, area, until=until)

    def off_by_one(handler: Any, repository: str, params: dict[str, list[str]]) -> str:
        tags = upstream_tags(proxy, repository)
        last = params["last"][0]
        index = next((i for i, tag in enumerate(tags) if tag >= last), len(tags))  # Go's sort.SearchStrings
        return page(handler, repository, tags[index + 1 :])

    answer_tails(proxy, off_by_one)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert result.code == 0, result.stderr
    assert result.json()["source"].startswith("2025.10.24.1230-build.10-"), result.json()["source"]
    assert {arch: area.digest(PROJECT, f"0.1.0-{arch}") for arch in PLATFORMS} == {
        arch: pushed.digest for arch, pushed in newest.items()
    }
    assert tails_asked(proxy) == [ASKED]
    assert ("(the release commit's builds and all later)" in result.stderr) is not quiet_day


# ATTACK: tails that break the promised order in every way the brief lists: `last` itself repeated, a page that
# starts again at the previous page's last tag, a page out of order, a Link back to a page already read, a Link to
# another host, an empty page whose Link goes on to a page before `last`; and a tail in order that does not reach back
# past the boundary (its first tag after it: the tags between `last` and the boundary left out), which must not count.
# Each tail holds the registry's real tags after `last` and a bogus complete build 99: were the tail trusted, build 99
# would be chosen (and fail to read). Found nothing: each is refused (None or a swallowed Corrupt) and the full listing
# decides (build 7, 8 skipped).
@pytest.mark.parametrize(
    "shape",
    [
        "last-itself",
        "starts-after-the-boundary",
        "repeat-across-pages",
        "descending",
        "link-back",
        "other-host",
        "empty-then-old",
    ],
)
def test_a_tail_out_of_order_is_refused_and_the_full_listing_decides(
    cli, area, monorepo, clean_env, fault_proxy, shape
):
    complete = push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=4)
    hold_the_full_listings_last_page(proxy, area, until=tail_answered(proxy))
    bogus = [f"2025.10.25.1600-build.99-v0.1.0-{'f' * 7}-{arch}" for arch in PLATFORMS]
    assert min(t for t in area.tags(PROJECT) if t > ASKED) <= TAIL_START  # the real answer reaches back past it

    def hostile(handler: Any, repository: str, params: dict[str, list[str]]) -> str:
        real = [t for t in upstream_tags(proxy, repository) if t > ASKED]  # what the registry answers to the tail
        second = "tail" in params
        if shape == "last-itself":
            return page(handler, repository, [ASKED, *real, *bogus])
        if shape == "starts-after-the-boundary":
            return page(handler, repository, [t for t in [*real, *bogus] if t > TAIL_START])
        if shape == "repeat-across-pages":
            if not second:
                return page(handler, repository, real[:2], tail_link(repository, real[1]))
            return page(handler, repository, [real[1], *real[2:], *bogus])
        if shape == "descending":
            return page(handler, repository, sorted([*real, *bogus], reverse=True))
        if shape == "link-back":
            if not second:
                return page(handler, repository, [*real, *bogus], tail_link(repository, real[-1]))
            return page(handler, repository, [], tail_link(repository, real[-1]))  # the same URL again
        if shape == "other-host":
            return page(handler, repository, [*real, *bogus], f"http://127.0.0.2:9/v2/{repository}/tags/list?n=1")
        if not second:  # empty-then-old
            return page(handler, repository, [], tail_link(repository, "zzz"))
        return page(handler, repository, ["0.0.1", *bogus])

    answer_tails(proxy, hostile)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert "(the release commit's builds and all later)" not in result.stderr
    assert tails_asked(proxy) == [ASKED]  # the tail was asked, and refused


# ATTACK: tags that only look like CalVer build tags, huge tags, non-ASCII and control characters in a tail that is
# otherwise in order (and holds the real builds: it holds the choice), to make choose_build or the progress lines
# misbehave. Found nothing: unparsed tags are ignored by both listings alike; no tag name is printed raw.
def test_a_tail_of_lookalike_huge_and_control_character_tags_chooses_as_the_full_listing(
    cli, area, monorepo, clean_env, fault_proxy
):
    complete = push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=16)  # the full listing's pages: the tail's answer, one page of 13, is shorter
    hold_the_full_listings_last_page(proxy, area, until=release_tag_checked(proxy))
    sha7 = "0bd0000"
    junk = [
        f"2025.10.25.1700-build.011-v0.1.0-{sha7}-amd64",  # a leading zero: not a build number
        f"2025.13.40.2599-build.12-v0.1.0-{sha7}-amd64",  # an impossible time
        f"2025.10.25.1700-build.12-v0.1.0-{sha7.upper()}-arm64",  # upper-case SHA
        f"2025.10.25.1700-build.12-v0.1.0-{sha7}-amd64\n::error::pwned",  # a newline and a workflow command
        f"2025.10.25.1700-build.12-v0.1.0-{sha7}-arm64\x1b[2J",
        "2025.10.25.1700-build.13-v0.1.0-" + "a" * 100_000,
        "2025.10.25.1700-build.14-v0.1.0-abc1234-\u0430md64",  # a Cyrillic a
        "\u202e2025.10.25.1700",  # sorts after every ASCII tag
    ]

    def lookalikes(handler: Any, repository: str, params: dict[str, list[str]]) -> str:
        real = [t for t in upstream_tags(proxy, repository) if t > ASKED]
        return page(handler, repository, sorted({*real, *junk}))

    answer_tails(proxy, lookalikes)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert "(the release commit's builds and all later)" in result.stderr  # the tail was used
    output = result.stdout + result.stderr
    assert "\x1b" not in output and "\u202e" not in output
    assert not any(line.lstrip().startswith("::") for line in output.splitlines())


# ATTACK: an empty tail page whose Link never ends (an endless tail, each page ascending): does the tail thread stop,
# or keep the run (and the registry) busy? Its first page is answered at once; any later one once promote has written
# a release tag, when the full listing is in for certain (it decided: the tail holds nothing). Found nothing: the tail
# sends no page after that answer; promote goes by the full listing and exits.
def test_an_endless_tail_stops_with_the_full_listing(cli, area, monorepo, clean_env, fault_proxy):
    complete = push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=4)
    hold_the_full_listings_last_page(proxy, area, until=tail_answered(proxy))
    answered: list[str] = []

    def endless(handler: Any, repository: str, params: dict[str, list[str]]) -> str:
        if answered:
            wait_for(lambda: proxy.count("PUT", "/manifests/0.1.0") > 0)
        answered.append(params["last"][0])
        return page(handler, repository, [], tail_link(repository, f"zz{len(answered):09d}"))

    answer_tails(proxy, endless)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert answered[0] == ASKED and len(answered) <= 2, answered  # at most one page sent before the full listing ended


# -- the tail's faults: time, output, credentials -------------------------------------------------------------------


# `--require-staging`'s gate reads the tag list through a second `prefetch.listing()` call (promote.py,
# `_staging_gate(... lambda: prefetch.listing().tags ...)`), before any write. A tail the registry is slow to answer,
# or retrying, after the full listing has decided: the second call returns at once, and the same listing as the first
# ("Never waits for a tail once the full listing is in").
def test_a_second_listing_call_does_not_wait_for_the_tail(area, monorepo, fault_proxy):
    push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=4)
    asked, release, answered = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:  # the tail is held until the test releases it (at most 10 s)
        asked.set()
        release.wait(10)
        answered.set()

    proxy.add(Fault("before", "GET", "/tags/list", run=hold, query=f"last={ASKED}"))
    end_of_first_page = sorted(area.tags(PROJECT))[3]  # the full listing goes on once the tail is asked
    proxy.add(Fault("before", "GET", "/tags/list", run=lambda: asked.wait(5), query=f"last={end_of_first_page}"))
    with client_for(area, proxy) as client:
        try:
            with Prefetch(
                client, area.repository(PROJECT), VERSION, PLATFORMS, committed_at=lambda: COMMITTED_AT
            ) as prefetch:
                first = prefetch.listing()  # the full listing: the tail is held
                second = prefetch.listing()
                tail_still_held = not answered.is_set()
                release.set()
        finally:
            release.set()
    assert asked.is_set() and first.after is None and first.complete
    assert tail_still_held, "the second listing() call waited for the tail"
    assert second == first


# ATTACK: 503 answers only on the tail, whose error body is hostile: terminal escapes, a GitHub workflow command at
# the start of a line, a bidi override, and the registry password in several spellings (raw, base64 of user:password,
# percent-encoded, JSON-escaped). The tail's retries print a progress line quoting the registry's answer.
# Found nothing: the tail retried and then held the choice, and the output boundary redacts and neutralises all of it.
def test_a_failing_tail_prints_nothing_raw_and_no_credential(cli, area, monorepo, clean_env, fault_proxy):
    complete = push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=4, credentials=(USER, PASSWORD))
    hold_the_full_listings_last_page(proxy, area, until=release_tag_checked(proxy))
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    message = (
        f"\x1b[2J\n::add-mask::x\r\n::error::{PASSWORD}\u202e {basic} {quote(PASSWORD)} "
        f"{json.dumps(PASSWORD)} {PASSWORD[::1]}"
    )
    failures = iter(range(1))  # one 503: one retry, under half a second

    def hostile_503(handler: Any, repository: str, params: dict[str, list[str]]) -> str | None:
        if next(failures, None) is None:
            return None
        body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": message}]}).encode()
        return handler._send(503, {"Content-Type": "application/json"}, body)

    answer_tails(proxy, hostile_503)
    env = {**clean_env, "REGISTRY_USERNAME": USER, "REGISTRY_PASSWORD": PASSWORD}

    result = promote(cli, area, monorepo, env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert "(the release commit's builds and all later)" in result.stderr
    output = result.stdout + result.stderr
    retry = next(line for line in output.splitlines() if "retrying" in line)  # the tail's 503 was reported
    assert "UNAVAILABLE" in retry and "***" in retry, retry  # quoting the registry, the password masked
    assert PASSWORD not in output and basic not in output and quote(PASSWORD) not in output
    assert "\x1b" not in output and "\u202e" not in output and "\r" not in output
    assert not any(line.lstrip().startswith("::") for line in output.splitlines())


# ATTACK: 401 (with a challenge) only on the tail, after the token flow has worked: a registry whose token does not
# cover `last`. The client answers the challenge again and the tail fails. Found nothing: the error is swallowed,
# the full listing decides, no credential in the output.
def test_a_tail_refused_with_401_leaves_the_full_listing_to_decide(cli, area, monorepo, clean_env, fault_proxy):
    complete = push_builds(area, dated_release(monorepo))
    proxy = fault_proxy(page_size=4, credentials=(USER, PASSWORD))
    hold_the_full_listings_last_page(proxy, area, until=tail_answered(proxy))

    def refuse(handler: Any, repository: str, params: dict[str, list[str]]) -> str:
        return handler._challenge(f"repository:{repository}:pull")

    answer_tails(proxy, refuse)
    env = {**clean_env, "REGISTRY_USERNAME": USER, "REGISTRY_PASSWORD": PASSWORD}

    result = promote(cli, area, monorepo, env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert (
        "(the release commit's builds and all later)" not in result.stderr
        and PASSWORD not in result.stdout + result.stderr
    )


# -- hostile git: the release commit's committer date ---------------------------------------------------------------


# A release commit dated after year 9999 (`git commit --date=@253402300800` is accepted by git 2.39, and `%ct` prints
# it), a time `datetime` cannot hold: promote still promotes, by the full listing (the commit's SHA without a time,
# so no tail), where `datetime.fromtimestamp`'s ValueError/OverflowError once crashed it with a traceback.
@pytest.mark.parametrize("date", ["@253402300800 +0000", "@99999999999999 +0000"])
def test_a_commit_dated_after_9999_is_promoted_by_the_full_listing(cli, area, monorepo, clean_env, fault_proxy, date):
    complete = push_builds(area, dated_release(monorepo, at=date))
    proxy = fault_proxy(page_size=4)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert "Traceback" not in result.stderr
    assert_promoted_build_7(result, area, complete)
    assert result.json()["commit_check"]["status"] == "match"
    assert not tail_requests(proxy)


# A release commit whose committer date is malformed (git writes it with `hash-object --literally`, history imported
# from elsewhere has them), so that `git log --format=%ct` prints no time for it: promote still finds the commit and
# its check still matches (`commit_and_time` keeps the SHA without a time), where the release tag was once reported
# missing from the checkout.
@pytest.mark.parametrize("date", ["garbage +0000", "1700000000"])  # no zone: git fsck calls it bad too
def test_a_commit_with_a_malformed_date_still_passes_the_commit_check(
    cli, area, monorepo, clean_env, fault_proxy, date
):
    tree = git(monorepo.root, "write-tree")
    parent = monorepo.head
    body = f"tree {tree}\nparent {parent}\nauthor a <a@b> 1700000000 +0000\ncommitter a <a@b> {date}\n\nrelease\n"
    path = monorepo.root.parent / "commit.txt"
    path.write_text(body)
    sha = git(monorepo.root, "hash-object", "-t", "commit", "-w", "--literally", str(path))
    git(monorepo.root, "tag", TAG, sha)  # lightweight: `git tag -a` refuses some of these commits
    complete = push_builds(area, sha)
    proxy = fault_proxy(page_size=4)

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert result.json()["commit_check"]["status"] == "match"


# A developer's (or a self-hosted runner's) global git config with `log.showSignature = true` and a signed release
# commit, so that `git log` prints the signature check ("Good \"git\" signature ...") before its format: promote still
# finds the commit and its check still matches, where "percolate-v0.1.0 is not in this checkout" once failed it.
def test_a_global_log_show_signature_does_not_lose_the_release_commit(
    cli, area, monorepo, clean_env, fault_proxy, tmp_path
):
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"]
    git(monorepo.root, *signing, "commit", "-q", "-S", "--allow-empty", "-m", "release", at="2025-10-25T12:00:00+00:00")
    monorepo.tag(TAG)
    complete = push_builds(area, monorepo.head)
    config = tmp_path / "gitconfig"
    config.write_text("[log]\n\tshowSignature = true\n")
    proxy = fault_proxy(page_size=4)

    result = promote(cli, area, monorepo, {**clean_env, "GIT_CONFIG_GLOBAL": str(config)}, proxy)

    assert_promoted_build_7(result, area, complete)
    assert result.json()["commit_check"]["status"] == "match"


# ATTACK: a release commit dated 1970 (the tail asked after 1969: every tag) or far in the future within range (9999:
# an empty tail), the stamps at the ends of their range. Found nothing: neither tail reaches back past its boundary
# (the first tag of the 1970 tail is 2025's), so neither counts, and the full listing chooses build 7.
@pytest.mark.parametrize(
    ("date", "asked"),
    [("1970-01-01T00:00:00+00:00", "1969.12.30.0000"), ("@253402300740 +0000", "9999.12.29.2359")],  # 9999-12-31 23:59
)
def test_commit_dates_at_the_ends_of_the_range_choose_as_the_full_listing(
    cli, area, monorepo, clean_env, fault_proxy, date, asked
):
    complete = push_builds(area, dated_release(monorepo, at=date))
    proxy = fault_proxy(page_size=4)
    hold_the_full_listings_last_page(proxy, area, until=tail_answered(proxy))

    result = promote(cli, area, monorepo, clean_env, proxy)

    assert_promoted_build_7(result, area, complete)
    assert tails_asked(proxy) == [asked]
    assert "(the release commit's builds and all later)" not in result.stderr


# ATTACK: a release tag that points to a tree, not a commit (`git tag TAG HEAD^{tree}`): `commit_and_time` peels with
# `^{commit}`, which fails. Found nothing: no time, so no tail is sent; no commit, so the check refuses (exit 1)
# naming the tag, as before the tail.
def test_a_release_tag_on_a_tree_sends_no_tail_and_fails_the_commit_check(cli, area, monorepo, clean_env, fault_proxy):
    sha = dated_release(monorepo)
    git(monorepo.root, "tag", "-f", TAG, "HEAD^{tree}")
    push_builds(area, sha)
    proxy = fault_proxy(page_size=4)

    result = promote(cli, area, monorepo, clean_env, proxy)

    result.assert_clean(1)
    assert "is not in this checkout" in result.stderr
    assert not tail_requests(proxy) and proxy.count("PUT") == 0


# -- races ----------------------------------------------------------------------------------------------------------


def promote_in_process(area: Any, proxy: Any, sha: str, *, tail: bool) -> tuple[str, Any]:
    """One promote of 0.1.0 through its own client, as the command runs it (with a tail or without one)."""
    project = get_project(PROJECT)
    with client_for(area, proxy, push=True) as client:
        try:
            repository = area.repository(PROJECT)
            with Prefetch(
                client, repository, VERSION, project.platforms, committed_at=(lambda: COMMITTED_AT) if tail else None
            ) as prefetch:
                result = promote_release(
                    project,
                    VERSION,
                    client,
                    release_tag=TAG,
                    release_commit=sha,
                    in_checkout=True,
                    prefetch=prefetch,
                )
            return "ok", result
        except PipelineError as error:
            return "refused", error


# ATTACK: four promotes of one version at once through a latency proxy, two with a tail (which holds the choice) and
# two without (the full listing only, as before the tail), sharing nothing but the registry; then four more
# against release tags that another build already holds. Each run's full listing holds its last page until a tail is
# answered, so the tails are sent. Checks: every run agrees, no release tag moves, and every run refused names the tag
# and both digests. Found nothing.
def test_concurrent_promotes_with_and_without_a_tail_agree_and_never_move_a_tag(area, monorepo, fault_proxy):
    sha = dated_release(monorepo)
    complete = push_builds(area, sha)
    proxy = fault_proxy(page_size=4, latency=0.01)
    for _ in range(4):
        hold_the_full_listings_last_page(proxy, area, until=tail_answered(proxy))

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda tail: promote_in_process(area, proxy, sha, tail=tail), [True, False] * 2))

    # Debian's registry may refuse one of four identical manifest PUTs racing (DIGEST_INVALID, as its storage
    # moves the same blob into place twice): that run fails on the registry's error, never on a moved tag.
    done = [result for kind, result in outcomes if kind == "ok"]
    failed = [error for kind, error in outcomes if kind != "ok"]
    assert done and all(not isinstance(error, RuleRefused) for error in failed), outcomes
    assert {result.source for result in done} == {done[0].source}
    assert done[0].source.startswith("2025.10.25.1300-build.7-")
    written = release_digests(area)
    assert {arch: written[f"0.1.0-{arch}"] for arch in PLATFORMS} == {a: p.digest for a, p in complete.items()}
    assert any(entry for entry in proxy.log if is_tail(entry))

    # A foreign writer puts another image at 0.1.0-arm64: every run must refuse, naming it, and nothing moves.
    foreign = area.pusher.platform_image(area.repository(PROJECT), "0.1.0-arm64", "arm64")
    before = release_digests(area)
    assert before["0.1.0-arm64"] == foreign.digest
    with ThreadPoolExecutor(max_workers=4) as pool:
        again = list(pool.map(lambda tail: promote_in_process(area, proxy, sha, tail=tail), [True, False] * 2))
    assert release_digests(area) == before
    assert [kind for kind, _ in again] == ["refused"] * 4, again
    for _, error in again:
        assert "0.1.0-arm64" in error.message and foreign.digest in error.message, error.message
        assert complete["arm64"].digest in error.message, error.message
