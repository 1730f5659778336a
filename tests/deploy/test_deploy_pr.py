"""deploy-pr on real git repositories (a bare origin and the release job's clone) and a local pulls API."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from pipelines.deploy.write_back import StackFile


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def record_file(tmp_path: Path, pin, promotion_record) -> Path:
    path = tmp_path / f"promote-{pin.project}.json"
    path.write_text(json.dumps(promotion_record(pin)))
    return path


def stack_on(bare: Path, ref: str, tmp_path: Path) -> StackFile:
    path = tmp_path / f"{ref.replace('/', '_')}.yaml"
    path.write_text(git(bare, "show", f"{ref}:Pulumi.prod.yaml") + "\n")
    return StackFile(path)


def merge_into_main(bare: Path, branch: str, tmp_path: Path) -> None:
    """What GitHub's merge button does for a branch based on main: fast-forward main to it."""
    git(bare, "merge-base", "--is-ancestor", "main", branch)
    git(bare, "update-ref", "refs/heads/main", git(bare, "rev-parse", branch))


def test_opens_a_pull_request_whose_branch_changes_only_the_entry(
    cli, origin, github, make_pin, promotion_record, tmp_path
):
    pin = make_pin("percolate", "0.2.0")
    result = cli(
        "deploy-pr",
        "percolate",
        "0.2.0",
        "--promotion",
        str(record_file(tmp_path, pin, promotion_record)),
        "--json",
        cwd=origin.clone,
        env=origin.env(github),
    )
    assert result.code == 0, result.stderr
    assert result.json()["pull_request"] == {
        "number": 1,
        "url": "https://github.example/labs/percolate/pull/1",
        "action": "opened",
    }

    branch = "deploy/percolate-v0.2.0"
    assert git(origin.bare, "rev-parse", f"{branch}^") == git(origin.bare, "rev-parse", "main")
    assert git(origin.bare, "diff", "--name-only", "main", branch) == "Pulumi.prod.yaml"
    assert stack_on(origin.bare, branch, tmp_path).pin("percolate") == pin
    assert stack_on(origin.bare, branch, tmp_path).pin("percolate-reading") == stack_on(
        origin.bare, "main", tmp_path
    ).pin("percolate-reading")

    (pull,) = github.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["title"]) == (branch, "main", "Deploy percolate 0.2.0")
    assert pin.digest in pull["body"] and pin.source in pull["body"]
    posts = [r for r in github.requests if r[0] == "POST"]
    assert posts[0][2]["Authorization"] == "Bearer test-pat"


def test_a_rerun_updates_the_same_pull_request(cli, origin, github, make_pin, promotion_record, tmp_path):
    record = str(record_file(tmp_path, make_pin("percolate", "0.2.0"), promotion_record))
    for _ in range(2):
        result = cli("deploy-pr", "percolate", "0.2.0", "--promotion", record, cwd=origin.clone, env=origin.env(github))
        assert result.code == 0, result.stderr
    assert len(github.pulls) == 1
    assert "updated pull request #1" in result.stdout
    assert [r[0] for r in github.requests] == ["GET", "POST", "GET", "PATCH"]


def test_two_releases_at_once_both_land_without_a_hand_made_merge(
    cli, origin, github, make_pin, promotion_record, tmp_path
):
    api = make_pin("percolate", "0.2.0")
    reading = make_pin("percolate-reading", "0.1.0", build=131)
    records = {pin.project: str(record_file(tmp_path, pin, promotion_record)) for pin in (api, reading)}
    for pin in (api, reading):
        assert (
            cli(
                "deploy-pr",
                pin.project,
                pin.version,
                "--promotion",
                records[pin.project],
                cwd=origin.clone,
                env=origin.env(github),
            ).code
            == 0
        )

    merge_into_main(origin.bare, "deploy/percolate-v0.2.0", tmp_path)
    # The reading branch was cut from the old main; re-running rebuilds it on the new one.
    rerun = cli(
        "deploy-pr",
        "percolate-reading",
        "0.1.0",
        "--promotion",
        records["percolate-reading"],
        cwd=origin.clone,
        env=origin.env(github),
    )
    assert rerun.code == 0, rerun.stderr
    merge_into_main(origin.bare, "deploy/percolate-reading-v0.1.0", tmp_path)

    main = stack_on(origin.bare, "main", tmp_path)
    assert main.pin("percolate") == api
    assert main.pin("percolate-reading") == reading
    assert len(github.pulls) == 2


def test_nothing_to_do_when_main_already_deploys_the_release(cli, origin, github, make_pin, promotion_record, tmp_path):
    record = str(record_file(tmp_path, make_pin("percolate", "0.2.0"), promotion_record))
    cli("deploy-pr", "percolate", "0.2.0", "--promotion", record, cwd=origin.clone, env=origin.env(github))
    merge_into_main(origin.bare, "deploy/percolate-v0.2.0", tmp_path)
    again = cli("deploy-pr", "percolate", "0.2.0", "--promotion", record, cwd=origin.clone, env=origin.env(github))
    assert again.code == 0
    assert "already deploys percolate 0.2.0" in again.stdout
    assert len(github.pulls) == 1


def test_a_blocked_version_is_refused_and_nothing_is_pushed(
    cli, origin, github, make_pin, promotion_record, tmp_path, monorepo
):
    stack = StackFile(origin.clone / "Pulumi.prod.yaml")
    stack.write_pin(make_pin("percolate", "0.1.0", blocked=("0.2.0",)))
    git(origin.clone, "commit", "-qam", "block 0.2.0")
    git(origin.clone, "push", "-q", "origin", "HEAD:main")
    record = str(record_file(tmp_path, make_pin("percolate", "0.2.0"), promotion_record))
    result = cli("deploy-pr", "percolate", "0.2.0", "--promotion", record, cwd=origin.clone, env=origin.env(github))
    assert result.code == 1
    assert "percolate 0.2.0 is blocked" in result.stderr
    assert "deploy/percolate-v0.2.0" not in git(origin.bare, "branch", "--list")
    assert github.requests == []


def test_the_record_must_be_the_release_asked_for(cli, origin, github, make_pin, promotion_record, tmp_path):
    record = str(record_file(tmp_path, make_pin("percolate", "0.2.0"), promotion_record))
    result = cli("deploy-pr", "percolate", "0.3.0", "--promotion", record, cwd=origin.clone, env=origin.env(github))
    assert result.code == 2
    assert "is of percolate 0.2.0, not percolate 0.3.0" in result.stderr


def test_dry_run_prints_the_pull_request_and_pushes_nothing(cli, origin, github, make_pin, promotion_record, tmp_path):
    record = str(record_file(tmp_path, make_pin("percolate", "0.2.0"), promotion_record))
    result = cli(
        "deploy-pr", "percolate", "0.2.0", "--promotion", record, "--dry-run", cwd=origin.clone, env=origin.env(github)
    )
    assert result.code == 0, result.stderr
    assert "would push deploy/percolate-v0.2.0" in result.stdout
    assert git(origin.bare, "branch", "--list") == "* main"
    assert github.requests == []
