"""The registry client's parsers and policies: --registry, challenges, Retry-After, backoff, credentials."""

from __future__ import annotations

import base64
import json
import string
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.edges.retry import RetryPolicy, parse_retry_after
from pipelines.images.registry.auth import parse_challenge
from pipelines.images.registry.credentials import (
    Credentials,
    docker_config_path,
    find_credentials,
    read_docker_config,
)
from pipelines.images.registry.location import parse_registry

NOW = datetime(2025, 10, 25, 14, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "host", "namespace", "base_url"),
    [
        ("ghcr.io/percolation-labs", "ghcr.io", "percolation-labs", "https://ghcr.io"),
        ("127.0.0.1:5000/test", "127.0.0.1:5000", "test", "http://127.0.0.1:5000"),
        ("localhost:5000", "localhost:5000", "", "http://localhost:5000"),
        ("[::1]:5000/a/b", "[::1]:5000", "a/b", "http://[::1]:5000"),
        ("127.8.9.1/x", "127.8.9.1", "x", "http://127.8.9.1"),
        ("10.0.0.1:5000/x", "10.0.0.1:5000", "x", "https://10.0.0.1:5000"),
        ("localhost.example.com/x", "localhost.example.com", "x", "https://localhost.example.com"),
        ("Registry.Example.com/team__a/b-c.d", "registry.example.com", "team__a/b-c.d", "https://registry.example.com"),
    ],
)
def test_registry_locations_and_plain_http_only_on_loopback(text, host, namespace, base_url):
    location = parse_registry(text)
    assert (location.host, location.namespace, location.base_url) == (host, namespace, base_url)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("https://ghcr.io/x", "has a scheme"),
        ("/x", "no valid host"),
        ("ghcr.io:0/x", "outside 1-65535"),
        ("ghcr.io/UPPER", "invalid component 'UPPER'"),
        ("ghcr.io/a//b", "invalid component ''"),
        ("-bad-.io/x", "not a valid host name"),
        ("[1::2::3]:5000/x", "not an IPv6 address"),
    ],
)
def test_bad_registries_name_the_problem(text, reason):
    with pytest.raises(InputError, match=reason.replace("(", r"\(")):
        parse_registry(text)


_label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_component = st.builds(
    lambda parts, seps: "".join(p + s for p, s in zip(parts, seps, strict=False)) + parts[-1],
    st.lists(_label, min_size=2, max_size=4),
    st.lists(st.sampled_from([".", "_", "__", "-", "--"]), min_size=3, max_size=3),
)


@given(
    st.lists(_label, min_size=1, max_size=4),
    st.none() | st.integers(1, 65535),
    st.lists(_component, max_size=3),
)
def test_parse_registry_round_trips_valid_locations(labels, port, components):
    host = ".".join(labels) + (f":{port}" if port is not None else "")
    namespace = "/".join(components)
    location = parse_registry(f"{host}/{namespace}" if namespace else host)
    assert (location.host, location.namespace) == (host, namespace)
    assert str(location) == (f"{host}/{namespace}" if namespace else host)


@given(st.text(max_size=60))
def test_parse_registry_accepts_or_says_why_never_crashes(text):
    try:
        location = parse_registry(text)
    except InputError as error:
        assert error.hint
    else:
        assert location.base_url.startswith(("http://", "https://"))


def test_a_ghcr_challenge_parses():
    challenge = parse_challenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/p:pull"')
    assert challenge.scheme == "bearer"
    assert dict(challenge.params) == {
        "realm": "https://ghcr.io/token",
        "service": "ghcr.io",
        "scope": "repository:o/p:pull",
    }


_token = st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=10)


@given(
    st.sampled_from(["Bearer", "Basic", "bearer"]),
    st.dictionaries(_token, st.text(string.printable, max_size=30), max_size=4),
)
def test_challenges_round_trip_through_quoting(scheme, params):
    quoted = ",".join(
        '{}="{}"'.format(key, value.replace("\\", "\\\\").replace('"', '\\"')) for key, value in params.items()
    )
    challenge = parse_challenge(f"{scheme} {quoted}")
    assert challenge.scheme == scheme.lower()
    assert dict(challenge.params) == {key.lower(): value for key, value in params.items()}


@given(st.integers(0, 10**6))
def test_retry_after_seconds(seconds):
    assert parse_retry_after(str(seconds), NOW) == seconds


@given(st.integers(-3600, 86400))
def test_retry_after_http_date_is_seconds_from_now_never_negative(offset):
    header = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(header, NOW) == max(0, offset)


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5"])
def test_unreadable_retry_after_is_ignored(value):
    assert parse_retry_after(value, NOW) is None


@given(
    st.integers(0, 30),
    st.floats(0.01, 5),
    st.floats(0.1, 60),
    st.none() | st.floats(0, 100),
    st.floats(0, 1, exclude_max=True),
)
def test_backoff_is_exponential_with_jitter_and_honours_retry_after(attempt, base, cap, retry_after, fraction):
    policy = RetryPolicy(base_delay=base, max_delay=cap)
    step = min(cap, base * 2**attempt)
    delay = policy.delay(attempt, retry_after, fraction)
    assert step / 2 <= delay or (retry_after is not None and delay == retry_after)
    assert delay <= max(step, retry_after or 0)
    if retry_after is not None:
        assert delay >= retry_after


def _docker_config(key: str, entry: dict[str, str]) -> dict[str, object]:
    return {"auths": {key: entry}}


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("host", "environ", "config", "expected"),
    [
        (
            "ghcr.io",
            {"REGISTRY_USERNAME": "u", "REGISTRY_PASSWORD": "p", "GITHUB_TOKEN": "t"},
            _docker_config("ghcr.io", {"auth": _basic("d", "dp")}),
            ("u", "p", "REGISTRY_USERNAME/REGISTRY_PASSWORD"),
        ),
        (
            "ghcr.io",
            {"GITHUB_TOKEN": "t", "GITHUB_ACTOR": "octocat"},
            _docker_config("ghcr.io", {"auth": _basic("d", "dp")}),
            ("octocat", "t", "GITHUB_TOKEN"),
        ),
        ("quay.io", {"GITHUB_TOKEN": "t"}, None, None),
        (
            "quay.io",
            {"GITHUB_TOKEN": "t"},
            _docker_config("https://quay.io/v1/", {"auth": _basic("d", "p:w")}),
            ("d", "p:w", "Docker config cfg"),
        ),
        (
            "127.0.0.1:5000",
            {},
            _docker_config("127.0.0.1:5000", {"username": "n", "password": "s"}),
            ("n", "s", "Docker config cfg"),
        ),
        ("127.0.0.1:5000", {}, _docker_config("127.0.0.1:5001", {"auth": _basic("d", "p")}), None),
        ("ghcr.io", {"REGISTRY_USERNAME": "", "REGISTRY_PASSWORD": ""}, {"credsStore": "desktop"}, None),
    ],
    ids=[
        "env-first",
        "github-token-for-ghcr",
        "github-token-not-elsewhere",
        "docker-auth-with-scheme",
        "docker-user-password",
        "other-host",
        "anonymous",
    ],
)
def test_credential_sources_in_order(host, environ, config, expected):
    found = find_credentials(host, environ, config, "cfg")
    assert (None if found is None else (found.username, found.password, found.source)) == expected


@pytest.mark.parametrize("environ", [{"REGISTRY_USERNAME": "u"}, {"REGISTRY_PASSWORD": "p"}])
def test_half_a_credential_pair_is_bad_input(environ):
    with pytest.raises(InputError, match="set both"):
        find_credentials("ghcr.io", environ, None)


def test_an_undecodable_docker_auth_is_bad_input():
    with pytest.raises(InputError, match="not base64 of user:password"):
        find_credentials("ghcr.io", {}, _docker_config("ghcr.io", {"auth": "%%%"}), "cfg")


def test_secrets_stay_out_of_repr():
    assert "hunter2" not in repr(Credentials("me", "hunter2", "test"))


def test_docker_config_location_and_reading(tmp_path: Path):
    home = tmp_path / "home"
    assert docker_config_path({}, home) == home / ".docker" / "config.json"
    assert docker_config_path({"DOCKER_CONFIG": str(tmp_path / "d")}, home) == tmp_path / "d" / "config.json"
    assert read_docker_config(tmp_path / "missing.json") is None
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"auths": {}}))
    bad.write_text("{not json")
    assert read_docker_config(good) == {"auths": {}}
    with pytest.raises(InputError, match="is not JSON"):
        read_docker_config(bad)
