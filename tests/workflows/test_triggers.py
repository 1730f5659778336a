"""Which workflow a pushed tag starts: GitHub's filter patterns, checked against the tag grammar.

The tag grammar of `pipelines.core.tags` is the truth: a tag it accepts starts exactly
the build (RC) or release workflow of its project, and a tag it refuses starts none.
Filter patterns are globs, not regular expressions, so the matcher here follows
GitHub's cheat sheet and is itself property-tested first.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipelines.core.catalog import PROJECTS, project_names
from pipelines.core.errors import InputError
from pipelines.core.tags import parse_tag

SPECIALS = "*?+[]!\\"
plain_text = st.text(alphabet=st.characters(codec="ascii", exclude_characters=SPECIALS), max_size=20)
ref_text = st.text(alphabet=st.sampled_from("abcz09.-_/v*?+[]!\\"), max_size=20)


def escape(text: str) -> str:
    return "".join(f"\\{c}" if c in SPECIALS else c for c in text)


# --- the matcher: GitHub's cheat sheet, property by property ---------------------------------


@given(text=ref_text)
def test_an_escaped_name_matches_itself(filter_patterns, text):
    assume(text)
    assert filter_patterns([escape(text)]).matches(text)


@given(text=ref_text, other=ref_text)
def test_a_pattern_matches_the_whole_name_never_a_part(filter_patterns, text, other):
    assume(text and other != text)
    assert filter_patterns([escape(text)]).matches(other) is False


@given(prefix=plain_text, rest=ref_text)
def test_star_matches_any_run_without_a_slash(filter_patterns, prefix, rest):
    assert filter_patterns([escape(prefix) + "*"]).matches(prefix + rest) is ("/" not in rest)


@given(prefix=plain_text, rest=ref_text)
def test_double_star_matches_any_run(filter_patterns, prefix, rest):
    assert filter_patterns([escape(prefix) + "**"]).matches(prefix + rest)


@given(digits=st.text(alphabet="0123456789ab", max_size=6))
def test_plus_after_a_set_means_one_or_more_of_the_set(filter_patterns, digits):
    expected = bool(re.fullmatch(r"[0-9]+", digits))
    assert filter_patterns(["v[0-9]+"]).matches("v" + digits) is expected


@given(count=st.integers(min_value=0, max_value=3))
def test_question_mark_means_zero_or_one_of_the_preceding_character(filter_patterns, count):
    assert filter_patterns(["colou?r"]).matches("colo" + "u" * count + "r") is (count <= 1)


@given(name=ref_text)
def test_dot_is_a_literal_dot(filter_patterns, name):
    assume(name != "1.2")
    assert filter_patterns(["1.2"]).matches(name) is False


@given(name=ref_text)
def test_a_later_negative_pattern_excludes_and_a_later_positive_one_includes_again(filter_patterns, name):
    everything = "**"
    assert filter_patterns([everything, "!" + everything]).matches(name) is False
    assert filter_patterns(["!" + everything, everything]).matches(name) is True
    assert filter_patterns([everything, "!" + everything, everything]).matches(name) is True


def test_set_ranges_and_members(filter_patterns):
    patterns = filter_patterns(["[CB]at", "[1-2]00", "x[0-9a-f]"])
    assert [patterns.matches(n) for n in ("Cat", "Bat", "Rat", "100", "200", "300", "xf", "xg")] == [
        True,
        True,
        False,
        True,
        True,
        False,
        True,
        False,
    ]


@pytest.mark.parametrize("pattern", ["", "!", "+a", "a*+", "a**?", "[0-9", "a[]", "[9-0]", "[a-9]"])
def test_malformed_patterns_are_refused(filter_patterns, invalid_pattern, pattern):
    with pytest.raises(invalid_pattern):
        filter_patterns([pattern])


# --- the trigger table --------------------------------------------------------------------


def expected_workflows(tag: str, tag_workflows) -> set[str]:
    """What the tag grammar says `tag` should start: one workflow, or none for a malformed tag."""
    try:
        parsed = parse_tag(tag)
    except InputError:
        return set()
    return {
        name
        for name, (project, stage) in tag_workflows.items()
        if (project.name, stage) == (parsed.project, parsed.stage)
    }


# Workflows that publish what a release changed (the dashboard) rather than build or release it.
PUBLISHERS = {"pages.yml"}


def started(tag: str, workflows) -> set[str]:
    return {name for name, workflow in workflows.items() if name not in PUBLISHERS and workflow.starts_on_tag(tag)}


VERSIONS = ("0.1.0", "1.2.3", "10.0.20", "0.0.0", "2.10.100")
RCS = ("", "-rc1", "-rc9", "-rc10", "-rc23", "-rc100")
MALFORMED_SUFFIXES = (
    "-v01.2.3",
    "-v1.02.3",
    "-v1.2.03",
    "-v00.1.0",
    "-v1.2.3-rc0",
    "-v1.2.3-rc01",
    "-v1.2.3-rc00",
    "-v1.2.3-rc",
    "-v1.2.3-rc1a",
    "-v1.2.3-beta1",
    "-v1.2.3-RC1",
    "-v1.2.3rc1",
    "-v1.2.3-rc-1",
    "-v1.2.3-rc1-rc2",
    "-v1.2",
    "-v1.2.3.4",
    "-v1..3",
    "-v1.2.",
    "-1.2.3",
    "-V1.2.3",
    "-vv1.2.3",
    "-v-1.2.3",
    "-v1.2.3-",
    "-v1.2.3/x",
    "-v1.2.3-rc1/x",
    "-v1.2.3+build",
    "-v",
    "",
    "-v1.2.3 ",
    "-va.b.c",
)
OTHER_TAGS = (
    "v1.2.3",
    "percolate-foo-v1.0.0",
    "Percolate-v1.0.0",
    "xpercolate-v1.0.0",
    "release-1",
    "percolate-rocks-reading-v1.0.0",
)

TAG_TABLE = sorted(
    {f"{p.name}-v{version}{rc}" for p in PROJECTS for version in VERSIONS for rc in RCS}
    | {f"{p.name}{suffix}" for p in PROJECTS for suffix in MALFORMED_SUFFIXES}
    | set(OTHER_TAGS)
)


def test_the_table_holds_every_kind_of_tag(tag_workflows):
    """A table that lost its RC, release or malformed rows would prove little."""
    kinds = {frozenset(expected_workflows(tag, tag_workflows)) for tag in TAG_TABLE}
    assert kinds == {frozenset()} | {frozenset({name}) for name in tag_workflows}


@pytest.mark.parametrize("tag", TAG_TABLE)
def test_a_tag_starts_exactly_the_workflow_of_its_project_and_stage(workflows, tag_workflows, tag):
    assert started(tag, workflows) == expected_workflows(tag, tag_workflows)


version_part = st.one_of(
    st.integers(min_value=0, max_value=120).map(str), st.from_regex(r"0[0-9]{1,2}", fullmatch=True)
)
suffix = st.one_of(
    st.just(""),
    st.builds(lambda n: f"-rc{n}", version_part),
    st.sampled_from(["-rc", "-RC1", "-beta1", "-rc1-rc2", "/x", ".4", "-"]),
    st.text(alphabet="0123456789.-rcv/", max_size=6),
)
tags = st.builds(
    lambda prefix, sep, major, minor, patch, dot, end: f"{prefix}{sep}{major}{dot}{minor}{dot}{patch}{end}",
    st.one_of(st.sampled_from(project_names()), st.sampled_from(["percolate-foo", "v", "percolate-rocks-reading", ""])),
    st.sampled_from(["-v", "-v", "-v", "-", "-V", "v"]),
    version_part,
    version_part,
    version_part,
    st.sampled_from([".", ".", ".", "..", "-"]),
    suffix,
)


@settings(max_examples=2000)
@given(tag=tags)
def test_any_generated_tag_starts_what_the_grammar_says(workflows, tag_workflows, tag):
    assert started(tag, workflows) == expected_workflows(tag, tag_workflows)


def test_rc_and_release_patterns_never_overlap(workflows, tag_workflows):
    for tag in TAG_TABLE:
        assert len(started(tag, workflows)) <= 1, f"{tag} starts {sorted(started(tag, workflows))}"


def test_exactly_the_build_and_release_workflows_start_on_tags(workflows, tag_workflows):
    starting = {name for name, w in workflows.items() if any(w.starts_on_tag(tag) for tag in TAG_TABLE)}
    assert starting - PUBLISHERS == set(tag_workflows)
    assert set(tag_workflows) <= set(workflows), "every project has a build and a release workflow"


def calls_pages(workflow) -> bool:
    """Whether a tag workflow rebuilds the dashboard itself, as its last job (issue 22, item 4)."""
    return any(job.calls == "pages.yml" for job in workflow.jobs.values())


def pages_trigger_problems(pages, tag_workflows, workflows) -> list[str]:
    """The tags of TAG_TABLE on which the dashboard's own start is wrong: it starts on exactly the release
    tags whose release workflow does not call it (once that workflow calls it, a start of its own would
    build the page before the release exists), and on no RC tag (RC builds call it, or do without)."""
    problems = []
    for tag in TAG_TABLE:
        releases = {name for name in expected_workflows(tag, tag_workflows) if name.startswith("release-")}
        uncalled = {name for name in releases if not calls_pages(workflows[name])}
        if pages.starts_on_tag(tag) != bool(uncalled):
            problems.append(tag)
    return problems


def test_the_dashboard_is_rebuilt_on_main_and_on_exactly_the_release_tags(workflows, tag_workflows):
    pages = workflows["pages.yml"]
    assert pages_trigger_problems(pages, tag_workflows, workflows) == []
    assert set(pages.triggers) == {"push", "workflow_call"}
    assert pages.triggers["push"]["branches"] == ["main"]


def test_the_dashboard_trigger_check_catches_a_leading_zero_tag(workflows, tag_workflows):
    """Control: pages.yml started by rocks' release tags without the negations (as first written) would start
    on percolate-rocks-v00.1.0, a tag no release workflow takes, as well as before each rocks release."""
    data = copy.deepcopy(workflows["pages.yml"].data)
    data["on"]["push"]["tags"] = ["percolate-rocks-v[0-9]+.[0-9]+.[0-9]+"]
    problems = pages_trigger_problems(dataclasses.replace(workflows["pages.yml"], data=data), tag_workflows, workflows)
    assert "percolate-rocks-v00.1.0" in problems and "percolate-rocks-v1.2.3-rc1" not in problems


def test_the_dashboard_trigger_check_catches_a_start_before_the_release_and_a_missed_release(workflows, tag_workflows):
    """Controls: pages.yml started by an image release tag as well (as before issue 22: it built before the
    release existed), and an image release workflow that no longer calls it."""
    data = copy.deepcopy(workflows["pages.yml"].data)
    data["on"]["push"].setdefault("tags", []).append("percolate-v[0-9]+.[0-9]+.[0-9]+")
    problems = pages_trigger_problems(dataclasses.replace(workflows["pages.yml"], data=data), tag_workflows, workflows)
    assert "percolate-v1.2.3" in problems
    release = copy.deepcopy(workflows["release-reading.yml"].data)
    del release["jobs"]["pages"]
    changed = {**workflows, "release-reading.yml": dataclasses.replace(workflows["release-reading.yml"], data=release)}
    assert "percolate-reading-v1.2.3" in pages_trigger_problems(workflows["pages.yml"], tag_workflows, changed)


def test_tag_workflows_start_on_nothing_but_their_tags(workflows, tag_workflows):
    for name in tag_workflows:
        triggers = workflows[name].triggers
        assert set(triggers) == {"push"}, f"{name} triggers on {sorted(triggers)}"
        assert set(triggers["push"]) == {"tags"}, f"{name}: a push of a branch must not start it"


def test_no_workflow_runs_on_events_that_hand_secrets_to_untrusted_code(workflows):
    for workflow in workflows.values():
        risky = {"pull_request_target", "workflow_run"} & set(workflow.triggers)
        assert not risky, f"{workflow.name} triggers on {sorted(risky)}"
