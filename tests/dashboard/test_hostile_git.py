"""What a contributor can push into git never crashes the dashboard (docs/dashboard.md, "Hostile input"): a
tag name or commit subject holding a character `str.splitlines` splits at, and dates git accepts but no
calendar here holds. Each is left out with a note (stderr and the page's "Skipped input"); the command exits 0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kit.git import git
from pipelines.edges.git_history import GitHistory, git_date
from tests.dashboard.hostile import base_repo, dashboard, forged_commit, stack, tag_object

LINE_BREAKS = ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"]


@pytest.mark.parametrize("char", ["\u2028", "\x85"])
def test_a_tag_name_with_a_unicode_line_break_is_one_foreign_tag(tmp_path, char):
    root = base_repo(tmp_path / "repo")
    git(root, "tag", f"note{char}x")

    built = dashboard(root, tmp_path / "site")

    assert built.code == 0, built.stderr
    assert f"note{char}x" in {tag.name for tag in GitHistory(root).tags()}
    assert 'id="percolate-v0.1.0"' in built.page


def test_a_commit_subject_with_line_breaks_is_read_whole(tmp_path):
    root = base_repo(tmp_path / "repo")
    subject = "deploy" + "".join(LINE_BREAKS) + "0.2.0 (#7)"
    git(root, "commit", "-q", "--allow-empty", "-m", "x")
    (root / "Pulumi.prod.yaml").write_text(stack("0.2.0"))
    git(root, "commit", "-q", "-a", "-m", subject, at="2025-10-03T10:00:00+00:00")

    versions = GitHistory(root).file_versions("Pulumi.prod.yaml")
    built = dashboard(root, tmp_path / "site")

    assert built.code == 0, built.stderr
    assert [v.subject for v in versions] == ["deploy (#5)", subject]
    assert "PR #7" in built.page


@pytest.mark.parametrize(
    "tagger",
    [None, "99999999999999 +0000", "1700000000 +9959", "253402300800 +0000", "253402329600 -1200"],
    ids=["no-tagger", "far-future", "zone-9959", "year-10000", "year-10000-in-utc-only"],
)
def test_a_tag_whose_date_no_calendar_holds_is_skipped_with_a_note(tmp_path, tagger):
    root = base_repo(tmp_path / "repo")
    tag_object(root, "percolate-v0.3.0", tagger)

    built = dashboard(root, tmp_path / "site")

    assert built.code == 0, built.stderr
    assert "note: tag 'percolate-v0.3.0': its date" in built.stderr
    assert "Skipped input" in built.page
    assert 'id="percolate-v0.3.0"' not in built.page and 'id="percolate-v0.1.0"' in built.page


def test_a_stack_file_version_whose_commit_date_is_year_10000_is_skipped_with_a_note(tmp_path):
    root = base_repo(tmp_path / "repo")
    forged_commit(root, "253402300800 +0000", "deploy 0.2.0 (#9)", stack("0.2.0"))
    git(root, "tag", "percolate-v0.6.0")  # a lightweight tag on that commit: its date is the commit's

    built = dashboard(root, tmp_path / "site")

    assert built.code == 0, built.stderr
    assert "its date (253402300800 +0000) is no date; skipped" in built.stderr
    assert "note: tag 'percolate-v0.6.0'" in built.stderr
    assert "PR #9" not in built.page and "PR #5" in built.page


def test_git_date_reads_the_raw_form_and_refuses_what_no_calendar_holds():
    assert git_date("1700000000 +0200") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert git_date("1700000000 -0130").utcoffset() == -timedelta(hours=1, minutes=30)
    assert git_date("0 +0000") == datetime(1970, 1, 1, tzinfo=UTC)
    for raw in ["", "x", "1700000000", "1700000000 +9959", "1700000000 +0060", "253402300800 +0000", "-1 +0000"]:
        assert git_date(raw) is None, raw
