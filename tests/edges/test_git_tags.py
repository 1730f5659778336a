"""The one tag lister (issue 24, item 2): `Git.tags` gives the names `GitHistory` lists, and a root that is no
git checkout fails the same way through both: bad input (exit 2), naming the root and git's message."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit.git import git
from pipelines.core.errors import InputError
from pipelines.edges.git import Git
from pipelines.edges.git_history import GitHistory


def test_the_names_are_every_tag_sorted_a_tag_of_a_tag_too(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    git(tmp_path, "tag", "percolate-v0.1.0")
    git(tmp_path, "tag", "-a", "-m", "rc", "percolate-v0.2.0-rc1")
    git(tmp_path, "tag", "-a", "-m", "release", "percolate-v0.2.0", "percolate-v0.2.0-rc1")  # a tag of a tag

    assert Git(tmp_path).tags() == ["percolate-v0.1.0", "percolate-v0.2.0", "percolate-v0.2.0-rc1"]


@pytest.mark.parametrize("tags", [lambda root: Git(root).tags(), lambda root: GitHistory(root).tags()])
def test_a_root_that_is_no_checkout_is_bad_input_through_both(tmp_path: Path, monkeypatch, tags) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    with pytest.raises(InputError) as raised:
        tags(tmp_path)
    assert raised.value.message.startswith(f"cannot list git tags in {tmp_path}: fatal: not a git repository")
    assert raised.value.hint == "pass --root DIR"


def test_a_tags_commit_and_its_committer_time_through_a_tag_of_a_tag(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "first", at="2025-10-25T14:30:59+02:00")
    head = git(tmp_path, "rev-parse", "HEAD")
    git(tmp_path, "tag", "light")
    git(tmp_path, "tag", "-a", "-m", "rc", "annotated")
    git(tmp_path, "tag", "-a", "-m", "of a tag", "tagged", "annotated")
    git(tmp_path, "tag", "tree", "HEAD^{tree}")  # a tag of no commit
    checkout = Git(tmp_path)

    for name in ("light", "annotated", "tagged"):
        assert checkout.commit_and_time(f"refs/tags/{name}") == (head, datetime(2025, 10, 25, 12, 30, 59, tzinfo=UTC))
    assert checkout.commit_and_time("refs/tags/tree") is None
    assert checkout.commit_and_time("refs/tags/missing") is None
    assert checkout.commit_and_time("--all") is None  # an option is read as a name, never obeyed
