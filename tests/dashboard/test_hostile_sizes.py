"""One input a contributor can push never makes the page or the build unbounded (docs/dashboard.md, "Hostile
input"): a commit blocking thousands of versions, thousands of RCs of one version, a huge string or list in a
record, and many nested tags with names that are no release's. Rows list a few items and "+N more"; strings
from records are cut visibly; only release tags are peeled, all in one git call."""

from __future__ import annotations

import json

from kit.git import git
from pipelines.dashboard.history import _images_and_repository, stack_history
from pipelines.edges import git_history
from pipelines.edges.git_history import GitHistory
from tests.dashboard.hostile import base_repo, commit_stack, dashboard, stack


def blocked_stack(version: str, blocked: list[str]) -> str:
    return stack(version) + f"      blocked: [{', '.join(blocked)}]\n"


def test_a_commit_blocking_5000_versions_lists_a_few_and_counts_the_rest(tmp_path):
    root = base_repo(tmp_path / "repo")
    versions = [f"9.{n // 100}.{n % 100}" for n in range(5000)]
    commit_stack(root, blocked_stack("0.1.0", versions), "block (#8)", at="2025-10-03T10:00:00+00:00")

    built = dashboard(root, tmp_path / "site")

    assert built.code == 0, built.stderr
    assert len(built.page.encode()) < 150_000
    assert "+4988 more" in built.page and "(the newest 12 of 5000; dashboard.json lists all)" in built.page


def test_many_commits_each_blocking_thousands_are_all_read_and_dated(tmp_path):
    """60 commits each blocking 3,000 versions took 7.5 s (each list was compared with the previous one item by
    item; now as sets). How long it takes is bench_dashboard.py's to measure, not a test's: here every version
    is read, and each blocked version is dated by the commit that blocked it."""
    root = base_repo(tmp_path / "repo")
    for number in range(15):
        versions = [f"{number + 1}.{n // 100}.{n % 100}" for n in range(6000)]
        commit_stack(root, blocked_stack("0.1.0", versions), f"block {number}", at="2025-10-03T10:00:00+00:00")
    versions = GitHistory(root).file_versions("Pulumi.prod.yaml")

    read = [_images_and_repository(str(version.text), "Pulumi.prod.yaml") for version in versions]
    found = stack_history(versions, "Pulumi.prod.yaml")

    assert len(read) == 16 and len(found.blocked("percolate")) == 6000 and len(found.blocked_since) == 90_000


def test_4000_rcs_of_one_version_list_the_newest_in_their_row(tmp_path):
    root = base_repo(tmp_path / "repo")
    head = git(root, "rev-parse", "HEAD")
    lines = "".join(f"create refs/tags/percolate-v0.2.0-rc{n} {head}\n" for n in range(1, 4001))
    git(root, "update-ref", "--stdin", input=lines)

    built = dashboard(root, tmp_path / "site")

    assert built.code == 0, built.stderr
    assert "3988 earlier RCs" in built.page and "rc4000 (" in built.page and "rc3988 (" not in built.page
    assert len(built.page.encode()) < 150_000


def test_a_4_mb_string_and_15000_artifacts_in_records_are_cut(tmp_path):
    root = base_repo(tmp_path / "repo")
    data = tmp_path / "records"
    data.mkdir()
    staging = {"kind": "staging-record", "project": "percolate", "build": "A" * 4_000_000, "result": "passed"}
    (data / "s.json").write_text(json.dumps({**staging, "recorded_at": "2025-10-05T10:00:00+00:00"}))
    images = [{"platform": f"p{n}" + "B" * 200, "digest": "sha256:" + "a" * 64} for n in range(15000)]
    record = {"tag": "percolate-v0.2.0", "project": "percolate", "commit": "a" * 40, "images": images}
    (data / "b.json").write_text(json.dumps(record))
    git(root, "tag", "percolate-v0.2.0")  # never deployed: its artifacts come from the record

    built = dashboard(root, tmp_path / "site", "--data", str(data))

    assert built.code == 0, built.stderr
    assert len(built.page.encode()) < 150_000
    assert "A" * 200 + "… (+3999800 characters)" in built.page
    assert "+14988 more (dashboard.json lists all)" in built.page


def test_only_release_tags_are_peeled_all_in_one_git_call(tmp_path, monkeypatch):
    root = base_repo(tmp_path / "repo")
    for n in range(60):
        git(root, "tag", "-a", f"nest-{n}", "-m", "x", "percolate-v0.1.0-rc1")
    git(root, "tag", "-a", "percolate-v0.1.1", "-m", "x", "percolate-v0.1.0")
    calls = []
    real = git_history.subprocess.run
    monkeypatch.setattr(git_history.subprocess, "run", lambda args, **kw: calls.append(args) or real(args, **kw))

    tags = {tag.name: tag for tag in GitHistory(root).tags()}

    assert [args[1] for args in calls] == ["for-each-ref", "cat-file"]
    assert "percolate-v0.1.1" in tags and not any(name.startswith("nest-") for name in tags)
