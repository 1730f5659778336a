"""Names a contributor can push that would reach the page's commands or take over a release (docs/dashboard.md,
"Hostile input"): a stack file's repository that is no OWNER/NAME, and a tag named like a ref."""

from __future__ import annotations

import json

from kit.git import git
from pipelines.core.catalog import GITHUB_REPOSITORY
from tests.dashboard.hostile import base_repo, commit_stack, dashboard, stack

EVIL_OWNER = "x$(touch${IFS}pwned)"


def test_a_stack_file_repository_that_is_no_slug_is_ignored_with_a_note(tmp_path):
    root = base_repo(tmp_path / "repo")
    commit_stack(root, stack("0.1.0", owner=f"'{EVIL_OWNER}'", name="mono;id"), "repository (#6)")

    built = dashboard(root, tmp_path / "site", "--json")

    assert built.code == 0, built.stderr
    assert "is not a GitHub OWNER/NAME; ignored" in built.stderr
    assert "touch" not in built.page.split("<h2>Skipped input</h2>")[0]
    assert f"--certificate-github-workflow-repository {GITHUB_REPOSITORY}" in built.page
    site = json.loads((tmp_path / "site" / "dashboard.json").read_text())
    assert site["repository"] == GITHUB_REPOSITORY


def test_a_tag_named_like_a_ref_does_not_take_over_the_release(tmp_path):
    root = base_repo(tmp_path / "repo")
    real = git(root, "rev-parse", "percolate-v0.1.0^{commit}")
    git(root, "tag", "-a", "refs/tags/percolate-v0.1.0", "-m", "hijack", "HEAD", at="2025-11-20T10:00:00+00:00")

    built = dashboard(root, tmp_path / "site", "--json")

    assert built.code == 0, built.stderr
    assert "tag 'refs/tags/percolate-v0.1.0' is named like release tag percolate-v0.1.0" in built.stderr
    release = next(
        r
        for p in json.loads((tmp_path / "site" / "dashboard.json").read_text())["projects"]
        for r in p["releases"]
        if r["version"] == "0.1.0" and p["name"] == "percolate"
    )
    assert release["released"].startswith("2025-10-01")
    assert f"--certificate-github-workflow-sha {real}" in built.page


def test_a_verification_command_whose_values_would_need_quoting_is_not_shown():
    """The second line of defence: every value is checked on the way in, and should one slip through, the page
    shows no command rather than one that runs more than it says."""
    import dataclasses

    from pipelines.dashboard.model import Artifact, Release
    from pipelines.dashboard.sections import verification

    view = type("View", (), {"kind": "image", "name": "percolate"})()
    release = Release("percolate", "0.1.0", (), tag="percolate-v0.1.0", commit="a" * 40)
    release = dataclasses.replace(release, artifacts=(Artifact("index", "sha256:" + "b" * 64),))

    assert "--certificate-github-workflow-repository example-org/mono" in verification(view, release, REPO)
    assert verification(view, release, "example-org/mono;id") == "(not shown: a value here would need shell quoting)"
    odd = dataclasses.replace(release, commit="a$(id)")
    assert verification(view, odd, REPO) == "(not shown: a value here would need shell quoting)"


REPO = "example-org/mono"
