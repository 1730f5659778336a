"""Version values, their PEP 440 and Cargo spellings, and the agreement check."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from pipelines.core.errors import CheckFailed, InputError
from pipelines.core.version_check import VersionReading, check_versions
from pipelines.core.versions import (
    ProjectVersion,
    parse_cargo,
    parse_pep440,
    parse_release,
    parse_version,
)


@pytest.mark.parametrize(
    ("pep440", "cargo"),
    [
        ("0.2.0", "0.2.0"),
        ("0.2.0rc1", "0.2.0-rc.1"),
        ("1.10.3a2", "1.10.3-alpha.2"),
        ("1.0.0b12", "1.0.0-beta.12"),
    ],
)
def test_conversions_both_ways(pep440: str, cargo: str):
    assert parse_pep440(pep440).cargo() == cargo
    assert parse_cargo(cargo).pep440() == pep440
    assert parse_version(pep440) == parse_version(cargo)


def test_non_normalised_pep440_spellings_are_read_through_packaging():
    assert parse_pep440("0.2.0-rc1").pep440() == "0.2.0rc1"
    assert parse_pep440("0.2.0.RC.1").cargo() == "0.2.0-rc.1"


@pytest.mark.parametrize("text", ["1.0", "1!1.0.0", "1.0.0.post1", "1.0.0.dev1", "1.0.0+local", "1.0.0.0", "x"])
def test_pep440_outside_the_shared_subset_is_refused(text: str):
    with pytest.raises(InputError):
        parse_pep440(text)


@pytest.mark.parametrize("text", ["1.0", "01.0.0", "1.0.0-rc1", "1.0.0-rc.0", "1.0.0-dev.1", "1.0.0+build", "1.0.0rc1"])
def test_cargo_outside_the_shared_subset_is_refused(text: str):
    with pytest.raises(InputError):
        parse_cargo(text)


def test_parse_release_refuses_prereleases():
    assert parse_release("1.2.3") == ProjectVersion(1, 2, 3)
    with pytest.raises(InputError, match="pre-release"):
        parse_release("1.2.3rc1")


numbers = st.integers(min_value=0, max_value=10**9)
versions = st.builds(
    ProjectVersion,
    numbers,
    numbers,
    numbers,
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(min_value=1, max_value=10**6)),
)


@given(versions)
def test_both_spellings_round_trip(version: ProjectVersion):
    assert parse_pep440(version.pep440()) == version
    assert parse_cargo(version.cargo()) == version
    assert Version(version.cargo()) == Version(version.pep440())


PRE_RANK = {"a": 0, "b": 1, "rc": 2}


def release_order(version: ProjectVersion) -> tuple[int, int, int, int, int]:
    """The order release engineers mean, written out independently: numbers as numbers, a < b < rc < final."""
    kind_rank, number = (PRE_RANK[version.pre[0]], version.pre[1]) if version.pre else (3, 0)
    return (version.major, version.minor, version.patch, kind_rank, number)


@given(versions, versions)
def test_order_follows_pep440(left: ProjectVersion, right: ProjectVersion):
    assert (left.sort_key() < right.sort_key()) == (release_order(left) < release_order(right))
    assert (left.sort_key() == right.sort_key()) == (left == right)


def test_order_of_known_versions():
    spelled = ["0.10.0", "0.2.0", "0.2.0rc10", "0.2.0rc2", "0.2.0b1", "0.2.0rc1", "0.9.9"]
    ordered = sorted((parse_pep440(text) for text in spelled), key=ProjectVersion.sort_key)
    assert [v.pep440() for v in ordered] == ["0.2.0b1", "0.2.0rc1", "0.2.0rc2", "0.2.0rc10", "0.2.0", "0.9.9", "0.10.0"]


@given(st.text())
def test_random_text_never_raises_anything_but_input_error(text: str):
    for parse in (parse_pep440, parse_cargo, parse_version):
        with contextlib.suppress(InputError):
            parse(text)


def reading(path: str, raw: str) -> VersionReading:
    return VersionReading(path, "version", raw, parse_version(raw))


def test_check_passes_when_all_files_agree_with_the_tag():
    check = check_versions("p", [reading("a", "0.2.0"), reading("b", "0.2.0")], expected=ProjectVersion(0, 2, 0))
    assert check.ok
    check.raise_for_problems()


def test_check_reports_every_disagreement_and_the_fix():
    check = check_versions(
        "p",
        [
            reading("Cargo.toml", "0.2.0"),
            reading("pyproject.toml", "0.2.1"),
            VersionReading("x", "k", "", None, "missing"),
        ],
        expected=ProjectVersion(0, 3, 0),
    )
    assert not check.ok
    assert len(check.problems) == 3
    assert any("pyproject.toml (version) says 0.2.1" in p for p in check.problems)
    assert any("the tag says 0.3.0" in p for p in check.problems)
    with pytest.raises(CheckFailed) as caught:
        check.raise_for_problems()
    assert "versions bump p VERSION" in str(caught.value.hint)


def test_an_rc_in_the_file_does_not_equal_the_final_version_of_the_tag():
    check = check_versions("p", [reading("pyproject.toml", "0.2.0rc1")], expected=ProjectVersion(0, 2, 0))
    assert not check.ok
