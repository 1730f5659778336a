"""The tag grammar: strict parsing, formatting, and rc numbering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.catalog import project_names
from pipelines.core.errors import CheckFailed, InputError
from pipelines.core.tags import ReleaseTag, Stage, format_tag, next_rc, parse_tag
from pipelines.core.versions import ProjectVersion

V = ProjectVersion


@pytest.mark.parametrize(
    ("text", "project", "version", "rc", "stage"),
    [
        ("percolate-reading-v0.1.0-rc2", "percolate-reading", V(0, 1, 0), 2, Stage.BUILD),
        ("percolate-v1.0.0", "percolate", V(1, 0, 0), None, Stage.RELEASE),
        ("percolate-rocks-v10.20.30-rc11", "percolate-rocks", V(10, 20, 30), 11, Stage.BUILD),
        ("refs/tags/percolate-v0.0.1", "percolate", V(0, 0, 1), None, Stage.RELEASE),
    ],
)
def test_parse_accepts_the_grammar(text: str, project: str, version: ProjectVersion, rc: int | None, stage: Stage):
    tag = parse_tag(text)
    assert (tag.project, tag.version, tag.rc, tag.stage) == (project, version, rc, stage)


def test_longest_project_name_wins():
    assert parse_tag("percolate-reading-v1.2.3").project == "percolate-reading"
    assert parse_tag("percolate-rocks-v1.2.3").project == "percolate-rocks"


def test_rc_tag_carries_pep440_and_cargo_package_versions():
    tag = parse_tag("percolate-rocks-v0.2.0-rc3")
    assert tag.package_version.pep440() == "0.2.0rc3"
    assert tag.package_version.cargo() == "0.2.0-rc.3"
    assert parse_tag("percolate-rocks-v0.2.0").package_version.pep440() == "0.2.0"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("percolate-v1.0", "version '1.0' is not MAJOR.MINOR.PATCH"),
        ("percolate-v01.0.0", "MAJOR '01' has a leading zero"),
        ("percolate-v1.00.0", "MINOR '00' has a leading zero"),
        ("percolate-v1.0.0-rc0", "rc numbers start at 1"),
        ("percolate-v1.0.0-rc01", "rc number '01' has a leading zero"),
        ("percolate-v1.0.0-beta1", "suffix '-beta1' is not allowed"),
        ("percolate-v1.0.0-rc", "suffix '-rc' is not allowed"),
        ("unknown-v1.0.0", "unknown project 'unknown'"),
        ("percolate-reading-1.0.0", "unknown project 'percolate-reading-1.0.0'"),
        ("percolate-v1.0.0 ", "white space"),
        ("", "empty"),
        ("percolate-v١.0.0", "not MAJOR.MINOR.PATCH"),  # noqa: RUF001 - a non-ASCII digit on purpose
    ],
)
def test_malformed_tags_name_the_problem_and_the_expected_form(text: str, reason: str):
    with pytest.raises(InputError) as caught:
        parse_tag(text)
    assert reason in caught.value.message
    assert "\n" not in caught.value.message
    assert "MAJOR.MINOR.PATCH[-rcN]" in str(caught.value.hint)


def test_format_refuses_prereleases_and_rc_below_one():
    with pytest.raises(InputError):
        format_tag("percolate", V(1, 0, 0, ("rc", 1)))
    with pytest.raises(InputError):
        format_tag("percolate", V(1, 0, 0), rc=0)
    with pytest.raises(InputError, match="unknown project"):
        format_tag("nope", V(1, 0, 0))


numbers = st.integers(min_value=0, max_value=10**6)
tags = st.builds(
    ReleaseTag,
    project=st.sampled_from(project_names()),
    version=st.builds(V, numbers, numbers, numbers),
    rc=st.none() | st.integers(min_value=1, max_value=10**6),
)


@given(tags)
def test_parse_inverts_format(tag: ReleaseTag):
    assert parse_tag(format_tag(tag.project, tag.version, tag.rc)) == tag
    assert parse_tag("refs/tags/" + tag.name) == tag


@given(st.text())
def test_random_text_never_raises_anything_but_input_error(text: str):
    try:
        tag = parse_tag(text)
    except InputError:
        return
    assert tag.name == text.removeprefix("refs/tags/")


@given(tags, st.text(alphabet="-.0123456789rcv", max_size=6))
def test_tag_with_garbage_appended_is_refused_or_still_exact(tag: ReleaseTag, garbage: str):
    try:
        parsed = parse_tag(tag.name + garbage)
    except InputError:
        return
    assert parsed.name == tag.name + garbage


def test_next_rc_is_one_above_every_existing_rc_of_that_version():
    existing = [
        "percolate-v1.0.0-rc1",
        "percolate-v1.0.0-rc3",  # rc2 was deleted: its number is still never reused after rc3
        "percolate-v1.1.0-rc7",  # another version
        "percolate-reading-v1.0.0-rc9",  # another project
        "v1.0.0",  # foreign tags are ignored
        "percolate-v1.0.0-rc10",
    ]
    assert next_rc("percolate", V(1, 0, 0), existing).name == "percolate-v1.0.0-rc11"
    assert next_rc("percolate", V(2, 0, 0), existing).name == "percolate-v2.0.0-rc1"


def test_next_rc_refuses_a_released_version():
    with pytest.raises(CheckFailed, match=r"percolate-v1.0.0 exists already"):
        next_rc("percolate", V(1, 0, 0), ["percolate-v1.0.0-rc1", "percolate-v1.0.0"])
