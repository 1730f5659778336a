"""Pagination, the Bearer token flow, and injected faults, through a local proxy in front of the real registry.

The proxy paginates tag lists, demands tokens from its own token service, answers
429/5xx with Retry-After and drops connections when told to; skopeo, talking to the
registry directly, checks what ended up there.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from kit.fault_proxy import Fault
from pipelines.core.errors import CheckFailed, Unavailable
from pipelines.edges.retry import RetryPolicy
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.credentials import Credentials
from pipelines.images.registry.location import parse_registry
from tests.support.tail_listing import is_tail

PROJECT = "percolate"
TAG = "percolate-v0.1.0"
USER, PASSWORD = "ci-bot", "s3cret-Pa55word"
FAST = RetryPolicy(max_time=30, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def released(monorepo: Any) -> Any:
    monorepo.tag(TAG)
    return monorepo


def promote(cli: Any, area: Any, repo: Any, env: dict[str, str], proxy: Any, *args: str):
    return cli(
        "promote", TAG, "--registry", area.registry(proxy.host), "--root", str(repo.root), "--json", *args, env=env
    )


def release_digests(area: Any) -> dict[str, str]:
    """What the release tags hold now, read by skopeo straight from the registry (absent tags left out)."""
    present = set(area.tags(PROJECT))
    return {tag: area.digest(PROJECT, tag) for tag in ("0.1.0-amd64", "0.1.0-arm64", "0.1.0") if tag in present}


def client_for(area: Any, proxy: Any, credentials: Credentials | None = None, **options: Any) -> RegistryClient:
    return RegistryClient(parse_registry(area.registry(proxy.host)), credentials, policy=FAST, **options)


def test_tag_lists_follow_link_pages_asking_for_1000_tags(cli, area, released, clean_env, fault_proxy):
    pushed = area.push_build(PROJECT, sha=released.head, number=1)
    for number in range(2, 12):
        area.push_build(PROJECT, sha=released.head, number=number, version="0.0.9")
    proxy = fault_proxy(page_size=7)
    tag_count = 2 + 10 * 2

    result = promote(cli, area, released, clean_env, proxy)

    assert result.code == 0, result.stderr
    pages = math.ceil(tag_count / 7)
    full_listing = [entry for entry in proxy.log if entry.path.endswith("/tags/list") and not is_tail(entry)]
    assert len(full_listing) == pages
    # With the tail after the release commit's day when it was sent (no build is that new here: read, not used).
    assert result.json()["requests"]["tag_list_pages"] == proxy.count("GET", "/tags/list") in (pages, pages + 1)
    assert set(proxy.requested_page_sizes) == {1000}
    assert release_digests(area)["0.1.0-amd64"] == pushed["amd64"].digest


def test_a_listing_stopped_while_a_page_waits_for_its_retry_gives_it_up(area, released, fault_proxy):
    """Promote stops the listing it no longer needs (the other one decided): a page being retried after a 429
    with Retry-After: 10 is given up at the next step of the wait, and nothing more is sent."""
    for number in range(1, 4):
        area.push_build(PROJECT, sha=released.head, number=number)
    proxy = fault_proxy(page_size=2)
    first_page_end = sorted(area.tags(PROJECT))[1]
    proxy.add(Fault("status", "GET", "/tags/list", status=429, retry_after="10", query=f"last={first_page_end}"))
    waits: list[float] = []

    with client_for(area, proxy, sleep=waits.append) as client, pytest.raises(Unavailable) as raised:
        client.list_tags(area.repository(PROJECT), stop=lambda: bool(waits))

    assert "stopped: no longer needed" in raised.value.message
    assert waits == [0.05] and proxy.count("GET", "/tags/list") <= 2  # the 429 may be logged after we read it


def test_the_likely_build_is_read_while_later_pages_come_and_the_tags_are_checked_after_the_last(
    cli, area, released, clean_env, fault_proxy
):
    pushed = area.push_build(PROJECT, sha=released.head, number=1)
    for number in range(2, 12):  # listed after build 1 (build.1- sorts before build.10): other tags follow it
        area.push_build(PROJECT, sha=released.head, number=number, version="0.0.9")
    proxy = fault_proxy(page_size=7, latency=0.05)  # four pages, long enough to read a build meanwhile

    result = promote(cli, area, released, clean_env, proxy)

    assert result.code == 0, result.stderr
    assert "while the tags were listed" in result.stderr
    assert release_digests(area)["0.1.0-amd64"] == pushed["amd64"].digest
    requests = result.json()["requests"]
    assert requests["total"] == requests["budget"] + 2  # nothing read twice; + each platform's config blob
    paths = [(entry.method, entry.path) for entry in proxy.log]
    last_page = max(i for i, (_, path) in enumerate(paths) if path.endswith("/tags/list"))
    first_build_read = min(i for i, (_, path) in enumerate(paths) if "-build.1-" in path)
    first_check = paths.index(("HEAD", f"/v2/{area.repository(PROJECT)}/manifests/0.1.0-amd64"))
    assert first_build_read < last_page < first_check  # read ahead; checked only once the list is whole


def test_a_build_read_ahead_that_a_later_page_overturns_is_not_promoted(cli, area, released, clean_env, fault_proxy):
    area.push_build(PROJECT, sha=released.head, number=1, at="2025-10-25T14:30:00+00:00")
    area.push_build(PROJECT, sha=released.head, number=2, version="0.0.9", at="2025-10-25T15:00:00+00:00")
    newest = area.push_build(PROJECT, sha=released.head, number=3, at="2025-10-25T16:00:00+00:00")
    proxy = fault_proxy(page_size=2)  # build 1 | the 0.0.9 build (build 1 read ahead) | build 3

    result = promote(cli, area, released, clean_env, proxy)

    assert result.code == 0, result.stderr
    assert result.json()["source"].startswith("2025.10.25.1600-build.3-")
    assert "while the tags were listed" not in result.stderr
    assert proxy.count("GET", "-build.1-v0.1.0-") == 2  # build 1 was read ahead, and only read
    assert release_digests(area) == {
        "0.1.0-amd64": newest["amd64"].digest,
        "0.1.0-arm64": newest["arm64"].digest,
        "0.1.0": result.json()["index_digest"],
    }


def test_bearer_token_flow_gets_one_token_for_pull_and_push(cli, area, released, clean_env, fault_proxy):
    pushed = area.push_build(PROJECT, sha=released.head, number=1, shape="buildx")
    proxy = fault_proxy(credentials=(USER, PASSWORD))
    env = {**clean_env, "REGISTRY_USERNAME": USER, "REGISTRY_PASSWORD": PASSWORD}

    result = promote(cli, area, released, env, proxy)

    assert result.code == 0, result.stderr
    assert proxy.count("GET", "/token") == 1
    assert [entry.outcome for entry in proxy.log if entry.outcome == "401"] == ["401"]  # only the first request
    assert all(entry.auth_scheme == "Bearer" for entry in proxy.log[2:])
    token_query = parse_qs(next(entry.query for entry in proxy.log if entry.path == "/token"))
    assert token_query["scope"] == [f"repository:{area.repository(PROJECT)}:pull,push"]
    assert PASSWORD not in result.stdout + result.stderr
    assert "credentials from REGISTRY_USERNAME/REGISTRY_PASSWORD" in result.stderr
    assert release_digests(area)["0.1.0-arm64"] == pushed["arm64"].digest


def test_an_expired_token_is_requested_again_on_401(area, released, fault_proxy):
    area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy(credentials=(USER, PASSWORD))
    repository = area.repository(PROJECT)

    with client_for(area, proxy, Credentials(USER, PASSWORD, "test")) as client:
        tags = client.list_tags(repository).tags
        proxy.revoke_tokens()
        manifest = client.get_manifest(repository, tags[0])

    assert manifest.digest == area.digest(PROJECT, tags[0])
    assert client.stats.sent["token"] == 2
    assert client.stats.auth_resends == 2


def test_docker_config_credentials_are_used(cli, area, released, clean_env, fault_proxy, tmp_path):
    area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy(credentials=(USER, PASSWORD))
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = tmp_path / "docker-config" / "config.json"
    config.write_text(json.dumps({"auths": {f"http://{proxy.host}": {"auth": encoded}}}))

    result = promote(cli, area, released, clean_env, proxy)

    assert result.code == 0, result.stderr
    assert f"credentials from Docker config {config}" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"REGISTRY_USERNAME": USER, "REGISTRY_PASSWORD": "wrong-password"},
            "refused the credentials from REGISTRY_USERNAME",
        ),
        ({}, "requires credentials"),
    ],
)
def test_missing_or_wrong_credentials_fail_with_a_clear_message(
    cli, area, released, clean_env, fault_proxy, env, message
):
    area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy(credentials=(USER, PASSWORD))

    result = promote(cli, area, released, {**clean_env, **env}, proxy)

    assert result.code == 1
    assert message in result.stderr and "REGISTRY_PASSWORD" in result.stderr
    assert "wrong-password" not in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_a_token_service_on_plain_http_elsewhere_gets_no_credentials(area, released, fault_proxy):
    proxy = fault_proxy(credentials=(USER, PASSWORD), realm="http://auth.example.invalid/token")

    with (
        client_for(area, proxy, Credentials(USER, PASSWORD, "test")) as client,
        pytest.raises(CheckFailed, match="not HTTPS"),
    ):
        client.list_tags(area.repository(PROJECT))
    assert proxy.count("GET", "/token") == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "status", "method": "PUT", "path": "/manifests/0.1.0", "status": 503, "retry_after": "1"},
        {"action": "status", "method": "GET", "path": "/tags/list", "status": 429, "retry_after": "1"},
        {"action": "status", "method": "GET", "path": "/manifests/", "status": 502, "times": 2},
        {"action": "drop", "method": "GET", "path": "/manifests/"},
        {"action": "drop-after", "method": "PUT", "path": "/manifests/0.1.0-arm64"},
    ],
    ids=["503-on-put", "429-on-tags", "502-twice-on-get", "dropped-get", "put-applied-answer-dropped"],
)
def test_transient_faults_are_retried_and_the_run_completes(cli, area, released, clean_env, fault_proxy, fault):
    pushed = area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy()
    proxy.inject(**fault)

    result = promote(cli, area, released, clean_env, proxy)

    assert result.code == 0, result.stderr
    data = result.json()
    assert data["requests"]["retries"] == fault.get("times", 1)
    assert "retrying in" in result.stderr
    assert release_digests(area) == {
        "0.1.0-amd64": pushed["amd64"].digest,
        "0.1.0-arm64": pushed["arm64"].digest,
        "0.1.0": data["index_digest"],
    }


def test_a_registry_that_keeps_failing_exits_1_and_a_rerun_completes(cli, area, released, clean_env, fault_proxy):
    pushed = area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy()
    proxy.inject("status", method="PUT", path="/manifests/0.1.0-arm64", status=503, retry_after="1", times=1000)

    failed = promote(cli, area, released, clean_env, proxy, "--max-time", "3")
    left = release_digests(area)
    proxy.clear_faults()
    rerun = promote(cli, area, released, clean_env, proxy)

    assert failed.code == 1
    assert (
        "did not complete PUT" in failed.stderr and "HTTP 503" in failed.stderr and "run promote again" in failed.stderr
    )
    assert left == {"0.1.0-amd64": pushed["amd64"].digest}  # what was written is right; the rest is absent
    assert rerun.code == 0, rerun.stderr
    assert rerun.json()["tags_unchanged"] == ["0.1.0-amd64"]
    assert rerun.json()["tags_written"] == ["0.1.0-arm64", "0.1.0"]
    assert release_digests(area)["0.1.0-arm64"] == pushed["arm64"].digest


def test_a_registry_that_does_not_answer_exits_1(cli, area, released, clean_env, local_registry):
    from socket import socket

    with socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        result = cli(
            "promote",
            TAG,
            "--registry",
            f"127.0.0.1:{port}/x",
            "--root",
            str(released.root),
            "--max-time",
            "2",
            env=clean_env,
        )

    assert result.code == 1
    assert "connection failed" in result.stderr and "gave up" in result.stderr and "Traceback" not in result.stderr


def test_a_manifest_altered_in_transit_is_refused(cli, area, released, clean_env, fault_proxy):
    area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy()
    proxy.inject("tamper", method="GET", path="-amd64")

    result = promote(cli, area, released, clean_env, proxy)

    assert result.code == 1
    assert "the bytes it sent hash to" in result.stderr
    assert release_digests(area) == {}


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_sets_the_least_wait(area, released, fault_proxy, form):
    area.push_build(PROJECT, sha=released.head, number=1)
    proxy = fault_proxy()
    later = datetime.now(UTC) + timedelta(seconds=30)
    proxy.inject(
        "status",
        method="GET",
        path="/tags/list",
        status=429,
        retry_after="20" if form == "seconds" else format_datetime(later, usegmt=True),
    )
    waits: list[float] = []
    policy = RetryPolicy(max_time=120, base_delay=0.01, max_delay=0.05)

    with RegistryClient(parse_registry(area.registry(proxy.host)), policy=policy, sleep=waits.append) as client:
        tags = client.list_tags(area.repository(PROJECT)).tags

    assert len(tags) == 2
    assert len(waits) == 1 and waits[0] >= 20


def test_retry_after_beyond_the_time_limit_gives_up_at_once(area, fault_proxy):
    proxy = fault_proxy()
    proxy.inject("status", method="GET", path="/tags/list", status=503, retry_after="3600")
    waits: list[float] = []

    with (
        client_for(area, proxy, sleep=waits.append) as client,
        pytest.raises(CheckFailed, match="would pass the time limit"),
    ):
        client.list_tags(area.repository(PROJECT))
    assert waits == []


def test_retries_back_off_exponentially_with_jitter(area, fault_proxy):
    proxy = fault_proxy()
    proxy.inject("status", method="GET", path="/tags/list", status=500, times=4)
    waits: list[float] = []
    policy = RetryPolicy(max_time=600, base_delay=1, max_delay=4)

    with RegistryClient(parse_registry(area.registry(proxy.host)), policy=policy, sleep=waits.append) as client:
        client.list_tags(area.repository(PROJECT))

    assert len(waits) == 4
    for attempt, wait in enumerate(waits):
        step = min(4, 2**attempt)
        assert step / 2 <= wait <= step
