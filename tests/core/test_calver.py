"""CalVer build tags: formatting, parsing back, ordering by value, and reporting what does not parse."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.calver import BuildTag, make_build_tag, order_build_tags, parse_build_tag
from pipelines.core.errors import InputError
from pipelines.core.versions import ProjectVersion

AT = datetime(2025, 10, 25, 14, 30, 59, tzinfo=UTC)


def test_format_matches_the_design_example():
    tag = make_build_tag(version="0.1.0", sha="abc1234def", arch="amd64", build=123, at=AT)
    assert tag.tag == "2025.10.25.1430-build.123-v0.1.0-abc1234-amd64"
    assert parse_build_tag(tag.tag) == tag


def test_time_is_taken_to_utc():
    plus_two = timezone(timedelta(hours=2))
    tag = make_build_tag(
        version="1.0.0", sha="ABCDEF1", arch="arm64", build=1, at=datetime(2026, 1, 1, 1, 5, tzinfo=plus_two)
    )
    assert tag.tag == "2025.12.31.2305-build.1-v1.0.0-abcdef1-arm64"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sha": "abc12"}, "hex SHA"),
        ({"sha": "zzzzzzz"}, "hex SHA"),
        ({"arch": "AMD64"}, "architecture"),
        ({"build": 0}, "below 1"),
        ({"version": "0.1.0rc1"}, "pre-release"),
        ({"version": "1.0"}, "PEP 440"),
        ({"at": datetime(2025, 1, 1)}, "no time zone"),
        ({"version": "1." + "9" * 120 + ".0"}, "longer than 128"),
    ],
)
def test_bad_parts_are_refused(kwargs, message):
    parts = {"version": "0.1.0", "sha": "abc1234", "arch": "amd64", "build": 1, "at": AT} | kwargs
    with pytest.raises(InputError, match=message):
        make_build_tag(**parts)


@pytest.mark.parametrize(
    "text",
    [
        "2025.13.01.1430-build.1-v0.1.0-abc1234-amd64",  # month 13
        "2025.02.30.1430-build.1-v0.1.0-abc1234-amd64",  # no such day
        "2025.10.25.2460-build.1-v0.1.0-abc1234-amd64",  # minute 60
        "2025.10.25.1430-build.01-v0.1.0-abc1234-amd64",  # leading zero
        "2025.10.25.1430-build.0-v0.1.0-abc1234-amd64",
        "2025.10.25.1430-build.1-v0.1.0-ABC1234-amd64",
        "2025.10.25.1430-build.1-v0.1.0-abc1234",
        "0.1.0-amd64",
        "latest",
    ],
)
def test_parse_refuses_what_is_not_a_build_tag(text: str):
    with pytest.raises(InputError):
        parse_build_tag(text)


def test_order_is_by_time_then_build_number_as_numbers_not_text():
    texts = [
        "2025.10.25.1430-build.10-v0.1.0-abc1234-amd64",
        "2025.10.25.1430-build.9-v0.1.0-abc1234-amd64",
        "2025.10.24.2359-build.99-v0.1.0-abc1234-amd64",
        "0.1.0-amd64",
        "2025.10.26.0000-build.2-v0.1.0-abc1234-amd64",
        "latest",
    ]
    ordered = order_build_tags(texts)
    assert [(t.built_at.day, t.build) for t in ordered.tags] == [(24, 99), (25, 9), (25, 10), (26, 2)]
    assert [u.tag for u in ordered.unparsed] == ["0.1.0-amd64", "latest"]
    assert all("not a CalVer build tag" in u.reason for u in ordered.unparsed)


build_tags = st.builds(
    BuildTag,
    built_at=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
    ),
    build=st.integers(min_value=1, max_value=10**9),
    version=st.builds(ProjectVersion, *[st.integers(min_value=0, max_value=10**6)] * 3),
    sha=st.text(alphabet="0123456789abcdef", min_size=7, max_size=7),
    arch=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10),
)


@given(build_tags)
def test_parse_inverts_format(tag: BuildTag):
    assert parse_build_tag(tag.tag) == tag


@given(st.lists(build_tags, max_size=20))
def test_order_never_puts_a_later_build_first(tags: list[BuildTag]):
    ordered = order_build_tags(t.tag for t in tags).tags
    assert len(ordered) == len(tags)
    assert all(a.order_key <= b.order_key for a, b in itertools.pairwise(ordered))


@given(st.lists(st.text(max_size=60), max_size=20))
def test_random_tags_are_reported_never_fatal(texts: list[str]):
    ordered = order_build_tags(texts)
    assert len(ordered.tags) + len(ordered.unparsed) == len(texts)
