"""The Conventional Commit parser and the grouping rule: examples, and properties over arbitrary messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.tags import parse_tag
from pipelines.notes.commits import Author, RawCommit, author_of, parse_commit
from pipelines.notes.groups import group, section_of
from pipelines.notes.span import previous_tag

SHA = "a" * 40


def commit(message: str, *, sha: str = SHA, parents: tuple[str, ...] = ("b" * 40,), email: str = "x@example.com"):
    return parse_commit(RawCommit(sha, parents, "X", email, message))


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        ("feat: add x", ("feat", None, "add x", False, None, None)),
        ("fix(api): y (#42)", ("fix", "api", "y", False, None, 42)),
        ("feat(core)!: drop z", ("feat", "core", "drop z", True, None, None)),
        ("refactor: a\n\nBREAKING CHANGE: b is c", ("refactor", None, "a", True, "b is c", None)),
        ("perf: faster\n\nBREAKING-CHANGE: old flag gone", ("perf", None, "faster", True, "old flag gone", None)),
        ("FEAT: shouting", ("feat", None, "shouting", False, None, None)),
        ("Update README", ("other", None, "Update README", False, None, None)),
        ("feat:no space", ("other", None, "feat:no space", False, None, None)),
        ("feat: ", ("other", None, "feat:", False, None, None)),
        ("", ("other", None, "(no message)", False, None, None)),
        ("wip (#7)", ("other", None, "wip", False, None, 7)),
    ],
)
def test_messages_are_read(message, fields):
    c = commit(message)
    assert (c.type, c.scope, c.description, c.breaking, c.breaking_note, c.pull_request) == fields


def test_a_git_revert_names_the_reverted_commit():
    c = commit(f'Revert "feat: a flag"\n\nThis reverts commit {"c" * 40}.\n')
    assert (c.type, c.description, c.reverts) == ("revert", "feat: a flag", "c" * 40)


@pytest.mark.parametrize(
    ("email", "login"),
    [
        ("1234+ada@users.noreply.github.com", "ada"),
        ("ada@users.noreply.github.com", "ada"),
        ("41898282+github-actions[bot]@users.noreply.github.com", "github-actions[bot]"),
        ("ada@example.com", None),
        ("-bad@users.noreply.github.com", None),
    ],
)
def test_the_login_comes_only_from_a_noreply_address(email, login):
    assert author_of("Ada", email) == Author("Ada", login)


def test_merges_release_commits_and_a_change_with_its_revert_are_left_out_and_the_rest_kept():
    feat = commit("feat: a flag", sha="1" * 40)
    revert = commit(f'Revert "feat: a flag"\n\nThis reverts commit {"1" * 40}.', sha="2" * 40)
    merge = commit("Merge pull request #3 from a/b", sha="3" * 40, parents=("4" * 40, "5" * 40))
    release = commit("chore(release): 1.0.0", sha="6" * 40)
    chore = commit("chore: tidy", sha="7" * 40)
    lone_revert = commit('Revert "fix: older"', sha="8" * 40)
    sections = group([lone_revert, chore, release, merge, revert, feat])
    assert [(s.key, [c.sha[0] for c in s.commits]) for s in sections] == [("reverts", ["8"]), ("other", ["7"])]


def test_sections_follow_the_order_of_the_notes():
    messages = ["docs: d", "security: s", "perf: p", "fix: f", "feat: e", "feat!: b", "fix(security): t"]
    sections = group(commit(m, sha=str(i) * 40) for i, m in enumerate(messages))
    assert [s.key for s in sections] == ["breaking", "features", "fixes", "performance", "security", "other"]
    assert [c.description for c in sections[4].commits] == ["s", "t"]


@pytest.mark.parametrize(
    ("tag", "existing", "previous"),
    [
        (
            "percolate-v0.2.0",
            ["percolate-v0.1.0", "percolate-v0.2.0-rc2", "percolate-reading-v0.1.9"],
            "percolate-v0.1.0",
        ),
        (
            "percolate-v0.2.0-rc2",
            ["percolate-v0.1.0", "percolate-v0.2.0-rc1", "percolate-v0.2.0-rc3"],
            "percolate-v0.2.0-rc1",
        ),
        (
            "percolate-v0.2.0-rc1",
            ["percolate-v0.1.0", "percolate-v0.1.1-rc1", "percolate-v0.10.0"],
            "percolate-v0.1.1-rc1",
        ),
        (
            "percolate-v0.10.0",
            ["percolate-v0.9.0", "percolate-v0.2.0", "v1.0", "percolate-v0.10.0"],
            "percolate-v0.9.0",
        ),
        ("percolate-reading-v1.0.0", ["percolate-v0.9.0"], None),
    ],
)
def test_the_previous_tag_is_chosen_by_version_within_the_project(tag, existing, previous):
    found = previous_tag(parse_tag(tag), existing)
    assert (found.name if found else None) == previous


@given(st.text(max_size=300), st.lists(st.text(max_size=40), max_size=3))
def test_any_message_is_read_and_lands_in_exactly_one_section(message, parents):
    c = commit(message, parents=tuple(p for p in parents if p.strip()) or ("p",))
    assert c.type and c.description
    assert "\n" not in c.description and "\r" not in c.description
    assert section_of(c) in {"breaking", "features", "fixes", "performance", "security", "reverts", "other"}
    kept = group([c])
    assert sum(len(s.commits) for s in kept) <= 1


@given(
    st.sampled_from(["feat", "fix", "perf", "docs", "security", "build"]),
    st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)),
    st.booleans(),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,.`'-]{0,60}[A-Za-z0-9.`]", fullmatch=True),
    st.one_of(st.none(), st.integers(1, 10**9)),
)
def test_a_conventional_header_round_trips(kind, scope, bang, text, number):
    header = f"{kind}{f'({scope})' if scope else ''}{'!' if bang else ''}: {text}{f' (#{number})' if number else ''}"
    c = commit(header)
    assert (c.type, c.scope, c.breaking, c.description, c.pull_request) == (kind, scope, bang, text, number)
    assert c.conventional


def test_notes_too_long_for_a_github_release_are_cut_but_keep_the_verification():
    from pipelines.notes.render import MAX_BODY, ReleaseNotes, markdown
    from pipelines.notes.span import Span
    from pipelines.notes.verification import verification_of

    tag = parse_tag("percolate-v1.0.0")
    commits = [commit(f"feat: change number {i}", sha=f"{i:040x}") for i in range(3000)]
    notes = ReleaseNotes(Span(tag, parse_tag("percolate-v0.9.0"), ("percolate",)), "o/r", group(commits), None)
    notes = ReleaseNotes(notes.span, notes.repository, notes.sections, verification_of(tag, "o/r", None))
    whole = markdown(notes, limit=10**9)
    cut = markdown(notes)
    assert len(whole) > MAX_BODY >= len(cut)
    assert "- change number 0 (" in cut and "left out" not in whole
    kept = cut.count("\n- change number ")
    assert f"… and {3000 - kept} more changes, left out to fit a GitHub release" in cut
    assert cut.endswith(whole[whole.index("### Verify this release") :])
