"""Which tags may deploy where: release tags to production, RC tags to staging, never the other way round.

GitHub matches deployment tag patterns with Ruby's File.fnmatch; for the `*` and
`[0-9]` these patterns use (and tags without `/`), Python's fnmatchcase agrees.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from infra.environments import PATCH_DIGITS, rc_tag_patterns, release_tag_patterns
from pipelines.core.catalog import project_names
from pipelines.core.errors import InputError
from pipelines.core.tags import format_tag, parse_tag
from pipelines.core.versions import ProjectVersion

projects = st.sampled_from(project_names())
versions = st.builds(ProjectVersion, st.integers(0, 10**4), st.integers(0, 10**4), st.integers(0, 10**PATCH_DIGITS - 1))


def matches(tag: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(tag, pattern) for pattern in patterns)


@given(projects, versions)
def test_every_release_tag_may_deploy_to_production_and_not_to_staging(project, version):
    tag = format_tag(project, version)
    assert matches(tag, release_tag_patterns())
    assert not matches(tag, rc_tag_patterns())


@given(projects, versions, st.integers(1, 10**4))
def test_no_rc_tag_may_deploy_to_production_and_every_one_to_staging(project, version, rc):
    tag = format_tag(project, version, rc)
    assert not matches(tag, release_tag_patterns())
    assert matches(tag, rc_tag_patterns())


@given(projects, projects, versions)
def test_a_pattern_names_one_project_only(project, other, version):
    tag = format_tag(project, version)
    own = [p for p in release_tag_patterns() if fnmatchcase(tag, p)]
    assert own and all(p.startswith(f"{project}-v") for p in own)


@given(st.text(alphabet="abcdeprv0123456789.-", max_size=30))
def test_whatever_production_accepts_is_a_release_tag(text):
    if matches(text, release_tag_patterns()):
        # Looser than the grammar only in what a release manager could never push (the ruleset and
        # the workflows' own tag parsing stop it): the patterns never admit an RC.
        assert "-rc" not in text.split("-v", 1)[-1]
        try:
            assert parse_tag(text).rc is None
        except InputError as error:  # malformed tags are the tag grammar's to refuse
            assert "malformed" in error.message
