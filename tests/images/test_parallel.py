"""Requests sent at once, against the real registry behind the fault proxy: the read ahead that carries the
release tags' checks, one token shared by parallel requests, and errors by a fixed order, never by timing.

Timing is steered by the proxy holding one request until another event (never by sleeping and hoping), so
these tests say nothing of speed and hold on a slow machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import pytest

from kit.registry import Fault
from pipelines.core.catalog import get_project
from pipelines.core.errors import CheckFailed, Unavailable
from pipelines.core.versions import ProjectVersion
from pipelines.edges.background import at_once
from pipelines.edges.http import Headers, Response
from pipelines.edges.retry import RetryPolicy
from pipelines.images.prefetch import Prefetch
from pipelines.images.registry.auth import Authenticator
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.credentials import Credentials
from pipelines.images.registry.location import parse_registry
from pipelines.images.release import promote_release
from pipelines.images.rules import choose_build, request_budget

PROJECT = "percolate"
TAG = "percolate-v0.1.0"
VERSION = ProjectVersion(0, 1, 0)
RELEASE_TAGS = ("0.1.0-amd64", "0.1.0-arm64", "0.1.0")
USER, PASSWORD = "ci-bot", "s3cret-Pa55word"
FAST = RetryPolicy(max_time=30, base_delay=0.01, max_delay=0.05)
WAIT = 0.9  # seconds a held request waits for its event at most (a test that fails, fails fast)


@pytest.fixture
def released(monorepo: Any) -> Any:
    monorepo.tag(TAG)
    return monorepo


def wait_until(condition: Callable[[], bool]) -> None:
    until = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > until:
            raise AssertionError("the event a held request waits for did not come")
        time.sleep(0.002)


def paged_build(area: Any, repo: Any) -> dict[str, Any]:
    """Build 1 of 0.1.0, then ten builds of 0.0.9 listed after it: at 7 tags a page, build 1 is read ahead."""
    pushed = area.push_build(PROJECT, sha=repo.head, number=1)
    for number in range(2, 12):  # build.1- sorts before build.10-: other tags follow build 1 on the first page
        area.push_build(PROJECT, sha=repo.head, number=number, version="0.0.9")
    return pushed


def promote_with_prefetch(area: Any, proxy: Any, started: threading.Event, prefetches: list[Prefetch]) -> Any:
    """`promote_release` in this process with a Prefetch the test can see; returns (result, client, the read ahead)."""
    project = get_project(PROJECT)
    with RegistryClient(parse_registry(area.registry(proxy.host)), push=True, policy=FAST) as client:
        repository = area.repository(PROJECT)
        with Prefetch(client, repository, VERSION, project.platforms) as prefetch:
            prefetches.append(prefetch)
            started.set()
            result = promote_release(
                project, VERSION, client, release_tag=TAG, release_commit=None, in_checkout=False, prefetch=prefetch
            )
            listing = prefetch.listing()
            read = prefetch.read_of(choose_build(listing.tags, VERSION, project.platforms).build)
    return result, client, read, listing


def test_a_read_ahead_whose_last_round_leaves_after_the_last_page_carries_the_release_tag_checks(
    area, released, fault_proxy
):
    pushed = paged_build(area, released)
    proxy = fault_proxy(page_size=7)
    started, prefetches = threading.Event(), []
    amd64 = area.build_tag(version="0.1.0", sha=released.head, number=1, at="2025-10-25T14:30:00+00:00", arch="amd64")
    first_read = f"/v2/{area.repository(PROJECT)}/manifests/{amd64}"

    def hold_until_listed() -> None:  # the read ahead's first round waits for the last page
        assert started.wait(WAIT)
        prefetches[0].listing()

    proxy.add(Fault("before", "GET", first_read, run=hold_until_listed))

    result, client, read, listing = promote_with_prefetch(area, proxy, started, prefetches)

    assert read is not None and dict(read.checked) == dict.fromkeys(RELEASE_TAGS)  # checked by the read ahead
    assert result.tags_written == RELEASE_TAGS
    assert result.platforms == {arch: image.digest for arch, image in pushed.items()}
    # Nothing checked twice: each platform tag checked and read back, the index checked twice and read back.
    assert client.stats.sent["manifest-head"] == 2 * 2 + 3 + 2  # + the platform tags read with the index
    assert client.stats.total == request_budget(2, listing.pages) + 2  # + each platform's config blob


def test_control_a_read_ahead_done_before_the_last_page_leaves_the_checks_to_promote(area, released, fault_proxy):
    """The control: the same promotion where the read ahead ends while pages are still coming checks nothing
    ahead; promote checks the release tags after the listing, and sends no more requests in all."""
    paged_build(area, released)
    proxy = fault_proxy(page_size=7)
    started, prefetches = threading.Event(), []
    configs = "/blobs/"

    pages: list[None] = []

    def later_pages_wait_for_the_read() -> None:  # every page after the first waits until the configs were read
        pages.append(None)
        if len(pages) > 1:
            wait_until(lambda: proxy.count("GET", configs) >= 2)

    proxy.add(Fault("before", "GET", "/tags/list", times=100, run=later_pages_wait_for_the_read))

    result, client, read, listing = promote_with_prefetch(area, proxy, started, prefetches)

    assert read is not None and dict(read.checked) == {}
    assert result.tags_written == RELEASE_TAGS
    log = [(entry.method, entry.path) for entry in proxy.log]
    last_page = max(i for i, (_, path) in enumerate(log) if path.endswith("/tags/list"))
    first_check = log.index(("HEAD", f"/v2/{area.repository(PROJECT)}/manifests/0.1.0-amd64"))
    assert last_page < first_check
    assert client.stats.total == request_budget(2, listing.pages) + 2


def test_requests_sent_at_once_each_carry_the_one_token(cli, area, released, clean_env, fault_proxy):
    paged_build(area, released)
    proxy = fault_proxy(page_size=7, credentials=(USER, PASSWORD), latency=0.02)
    env = {**clean_env, "REGISTRY_USERNAME": USER, "REGISTRY_PASSWORD": PASSWORD}

    result = cli(
        "promote", TAG, "--registry", area.registry(proxy.host), "--root", str(released.root), "--json", env=env
    )

    assert result.code == 0, result.stderr
    assert "while the tags were listed" in result.stderr  # reads ran in worker threads beside the listing
    assert proxy.count("GET", "/token") == 1
    registry = [entry for entry in proxy.log if entry.path != "/token"]
    assert [entry.outcome for entry in registry].count("401") == 1  # the first request, before any token
    assert all(entry.auth_scheme == "Bearer" for entry in registry[1:])


def test_threads_that_find_no_token_at_once_fetch_one(monkeypatch):
    """Four requests sent together after the token expired: one asks the token service, the others use its token."""
    fetched: list[float] = []
    inside = threading.Event()

    def send(url: str, params: Any, headers: Any) -> Response:
        fetched.append(time.monotonic())
        inside.set()
        time.sleep(0.05)  # long enough for the other threads to arrive while this fetch is under way
        body = b'{"token": "t0ken-%d", "expires_in": 300}' % len(fetched)
        return Response(200, "OK", Headers([("Content-Type", "application/json")]), body, url)

    auth = Authenticator("127.0.0.1:5000", Credentials(USER, PASSWORD, "test"), push=True, send=send)
    challenge = Headers([("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:5000/token",scope="repository:x:pull"')])
    auth.answer(Response(401, "Unauthorized", challenge, b"", "http://127.0.0.1:5000/v2/"), "x")

    with ThreadPoolExecutor(4) as pool:
        headers = list(pool.map(lambda _: auth.header("x"), range(4)))

    assert len(fetched) == 1
    assert headers == [{"Authorization": "Bearer t0ken-1"}] * 4


@pytest.mark.parametrize("page_size", [None, 7], ids=["no-read-ahead", "read-ahead"])
def test_a_check_that_fails_among_requests_sent_at_once_gives_the_error_it_gave_alone(
    cli, area, released, clean_env, fault_proxy, page_size
):
    """The read ahead meets the fault first and reports it, with the same cause and words as a promotion that
    read nothing ahead. Nothing is written."""
    paged_build(area, released)
    proxy = fault_proxy(page_size=page_size)
    repository = area.repository(PROJECT)
    proxy.inject("status", method="HEAD", path=f"/v2/{repository}/manifests/0.1.0-arm64", status=400, times=10)

    result = cli(
        "promote", TAG, "--registry", area.registry(proxy.host), "--root", str(released.root), "--json", env=clean_env
    )

    assert result.code == 1
    error = result.json()
    assert error["cause"] == "corrupt"
    assert error["error"] == (
        f"could not check {proxy.host}/{repository}:0.1.0-arm64: HTTP 400 from {proxy.host} (Bad Request)"
    )
    assert not any(entry.method == "PUT" for entry in proxy.log)


def test_the_first_error_of_requests_sent_at_once_is_the_first_by_their_order_not_by_time(area, released, fault_proxy):
    """amd64's read fails (its tag is not there), arm64's fails otherwise and is answered first: amd64's error is
    the one raised. The control (the same reads by as_completed) shows that arm64's answer really came first."""
    paged_build(area, released)
    proxy = fault_proxy()
    repository = area.repository(PROJECT)
    amd64 = "2025.10.25.1430-build.1-v0.1.0-0000000-amd64"  # no such tag: 404
    arm64 = area.build_tag(version="0.1.0", sha=released.head, number=1, at="2025-10-25T14:30:00+00:00", arch="arm64")
    arm64_answered = threading.Event()

    def hold_amd64_then_fail_arm64() -> None:
        arm64_answered.clear()
        proxy.add(
            Fault("before", "GET", f"/v2/{repository}/manifests/{amd64}", run=lambda: arm64_answered.wait(WAIT)),
            Fault("status", "GET", f"/v2/{repository}/manifests/{arm64}", status=400),
        )

    def read(tag: str) -> Any:
        try:
            return client.get_manifest(repository, tag)
        finally:
            if tag == arm64:
                arm64_answered.set()

    with (
        RegistryClient(parse_registry(area.registry(proxy.host)), policy=FAST) as client,
        ThreadPoolExecutor(2) as pool,
    ):
        hold_amd64_then_fail_arm64()
        with pytest.raises(CheckFailed) as raised:
            at_once([lambda: read(amd64), lambda: read(arm64)])
        hold_amd64_then_fail_arm64()
        futures = {pool.submit(read, tag): tag for tag in (amd64, arm64)}
        by_time = [futures[future] for future in as_completed(futures)]

    assert raised.value.cause == "not-found" and amd64 in raised.value.message
    assert by_time == [arm64, amd64]  # the control: by time, arm64's error would have been the one reported


@pytest.mark.parametrize("page_size", [None, 7], ids=["no-read-ahead", "read-ahead"])
def test_a_platform_that_stays_unavailable_is_named_whether_or_not_it_was_read_ahead(
    area, released, fault_proxy, page_size
):
    """The read ahead spends the client's one deadline on a platform that answers 503 to the end: its error is
    the one reported (a second read would only fail on the spent deadline, naming a request already answered)."""
    paged_build(area, released)
    proxy = fault_proxy(page_size=page_size)
    repository = area.repository(PROJECT)
    arm64 = area.build_tag(version="0.1.0", sha=released.head, number=1, at="2025-10-25T14:30:00+00:00", arch="arm64")
    proxy.inject("status", method="GET", path=f"/v2/{repository}/manifests/{arm64}", status=503, times=10_000)
    policy = RetryPolicy(max_time=1, max_attempts=10_000, base_delay=0.01, max_delay=0.05)
    project = get_project(PROJECT)
    with (
        RegistryClient(parse_registry(area.registry(proxy.host)), push=True, policy=policy) as client,
        Prefetch(client, repository, VERSION, project.platforms) as prefetch,
        pytest.raises(Unavailable) as raised,
    ):
        promote_release(
            project, VERSION, client, release_tag=TAG, release_commit=None, in_checkout=False, prefetch=prefetch
        )
    # The last try ended in a 503 or, on a loaded machine, cut by the deadline: either way, arm64's request.
    assert f"did not complete GET /v2/{repository}/manifests/{arm64}" in raised.value.message, raised.value.message
    assert not any(entry.method == "PUT" for entry in proxy.log)


@pytest.mark.parametrize("late_401_names_the_old_token", [True, False], ids=["late 401", "control: a fresh 401"])
def test_a_late_401_of_a_request_sent_at_once_keeps_the_token_fetched_since(late_401_names_the_old_token):
    """Tokens revoked: one request's 401 gets a new token; the 401 of another request sent with the old token at
    the same time, arriving later, must not throw the new one away (the control: a 401 for the new one does)."""
    fetched: list[int] = []

    def send(url: str, params: Any, headers: Any) -> Response:
        fetched.append(1)
        body = b'{"token": "t0ken-%d", "expires_in": 300}' % len(fetched)
        return Response(200, "OK", Headers([("Content-Type", "application/json")]), body, url)

    auth = Authenticator("127.0.0.1:5000", Credentials(USER, PASSWORD, "test"), push=False, send=send)
    challenge = Headers([("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:5000/token",scope="repository:x:pull"')])
    refused = Response(401, "Unauthorized", challenge, b"", "http://127.0.0.1:5000/v2/x/manifests/a")
    auth.answer(refused, "x")
    old = auth.header("x")["Authorization"]  # both requests go out with it; then the tokens are revoked
    auth.answer(refused, "x", old)  # the first 401
    new = auth.header("x")["Authorization"]
    auth.answer(refused, "x", old if late_401_names_the_old_token else new)  # the second, later 401

    assert auth.header("x")["Authorization"] == (new if late_401_names_the_old_token else "Bearer t0ken-3")
    assert len(fetched) == (2 if late_401_names_the_old_token else 3)
