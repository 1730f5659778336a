"""A tag of a tag (`git tag -a outer inner`) once crashed the dashboard: `%(*…)` in `git for-each-ref` peels
one level, to the inner tag, which has no committer date. GitHistory.tags peels such a tag to its commit;
a tag of a tree names no commit and is left out."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.edges.git_history import GitHistory
from tests.conftest import git


def test_a_tag_of_a_tag_is_peeled_to_its_commit(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "f").write_text("x\n")
    git(tmp_path, "add", "f")
    git(tmp_path, "commit", "-q", "-m", "one", at="2025-10-01T09:00:00+00:00")
    commit = git(tmp_path, "rev-parse", "HEAD")
    git(tmp_path, "tag", "-a", "percolate-v0.1.0-rc1", "-m", "rc", at="2025-10-01T10:00:00+00:00")
    git(
        tmp_path,
        "tag",
        "-a",
        "percolate-v0.1.0",
        "-m",
        "re-tag",
        "percolate-v0.1.0-rc1",
        at="2025-10-02T10:00:00+00:00",
    )
    git(tmp_path, "tag", "-a", "percolate-v0.1.1", "-m", "twice", "percolate-v0.1.0", at="2025-10-03T10:00:00+00:00")
    git(tmp_path, "tag", "tree-tag", "HEAD^{tree}")

    tags = {tag.name: tag for tag in GitHistory(tmp_path).tags()}

    assert sorted(tags) == ["percolate-v0.1.0", "percolate-v0.1.0-rc1", "percolate-v0.1.1"]
    for name, day in (("percolate-v0.1.0-rc1", 1), ("percolate-v0.1.0", 2), ("percolate-v0.1.1", 3)):
        assert tags[name].commit == commit
        assert tags[name].commit_date == datetime(2025, 10, 1, 9, tzinfo=UTC)
        assert tags[name].date == datetime(2025, 10, day, 10, tzinfo=UTC)
