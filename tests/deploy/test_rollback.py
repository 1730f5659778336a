"""rollback and stack-config set-image on a real git history of the stack file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.deploy.write_back import StackFile

GOLDEN = Path(__file__).parent / "data" / "Pulumi.prod.golden.yaml"


def commit(root: Path, message: str) -> None:
    subprocess.run(["git", "commit", "-qam", message], cwd=root, check=True)


@pytest.fixture
def released(monorepo, make_pin):
    """A stack file whose history deployed percolate 0.1.0, then 0.2.0, then 0.3.0."""
    path = monorepo.root / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    monorepo.commit_all("the prod stack")
    stack = StackFile(path)
    for version in ("0.1.0", "0.2.0", "0.3.0"):
        stack.write_pin(make_pin("percolate", version))
        commit(monorepo.root, f"deploy percolate {version}")
    return stack


def test_rollback_restores_the_previous_release_and_blocks_the_failed_one(cli, monorepo, released, make_pin):
    result = cli("rollback", "percolate", "--json", cwd=monorepo.root)
    assert result.code == 0, result.stderr
    assert result.json()["from_version"] == "0.3.0"
    assert released.pin("percolate") == make_pin("percolate", "0.2.0", blocked=("0.3.0",))

    commit(monorepo.root, "roll back percolate 0.3.0")
    again = cli("rollback", "percolate", cwd=monorepo.root)
    assert again.code == 0, again.stderr
    assert released.pin("percolate") == make_pin("percolate", "0.1.0", blocked=("0.3.0", "0.2.0"))


def test_rollback_to_a_named_version(cli, monorepo, released, make_pin):
    result = cli("rollback", "percolate", "--to", "0.1.0", "--stack-config", str(released.path), cwd=monorepo.root)
    assert result.code == 0, result.stderr
    assert released.pin("percolate") == make_pin("percolate", "0.1.0", blocked=("0.3.0",))


def test_rollback_with_nowhere_to_go_fails_and_writes_nothing(cli, monorepo, released):
    before = released.path.read_bytes()
    result = cli("rollback", "percolate", "--to", "0.0.9", cwd=monorepo.root)
    assert result.code == 1
    assert "earlier versions: 0.2.0, 0.1.0" in result.stderr
    assert released.path.read_bytes() == before
    unreleased = cli("rollback", "percolate-reading", cwd=monorepo.root)
    assert unreleased.code == 1 and "no deployed release" in unreleased.stderr


def test_a_blocked_version_cannot_be_set_again_until_a_person_clears_it(cli, monorepo, released, make_pin, tmp_path):
    assert cli("rollback", "percolate", cwd=monorepo.root).code == 0
    pin = make_pin("percolate", "0.3.0")
    args = [
        "stack-config",
        "set-image",
        "percolate",
        "--version",
        "0.3.0",
        "--digest",
        pin.digest,
        "--source",
        pin.source,
        *[f"--platform={arch}={digest}" for arch, digest in pin.platforms],
    ]
    before = released.path.read_bytes()
    refused = cli(*args, cwd=monorepo.root)
    assert refused.code == 1
    assert "blocked" in refused.stderr and "by hand" in refused.stderr
    assert released.path.read_bytes() == before

    released.path.write_text(released.path.read_text().replace("      blocked: [0.3.0]\n", ""))
    assert cli(*args, cwd=monorepo.root).code == 0
    assert released.pin("percolate") == pin


def test_set_image_reports_bad_options_without_writing(cli, monorepo, released):
    before = released.path.read_bytes()
    result = cli("stack-config", "set-image", "percolate", "--version", "0.4.0", cwd=monorepo.root)
    assert result.code == 2 and "missing --digest, --platform, --source" in result.stderr
    bad = cli(
        "stack-config",
        "set-image",
        "percolate",
        "--version",
        "0.4.0",
        "--digest",
        "sha256:nope",
        "--platform",
        "amd64=x",
        "--source",
        "s",
        cwd=monorepo.root,
    )
    assert bad.code == 2 and "error: options.percolate.platforms: missing platform(s) arm64" in bad.stderr
    assert released.path.read_bytes() == before


def test_show_lists_the_pins(cli, monorepo, released):
    result = cli("stack-config", "show", "--json", cwd=monorepo.root)
    assert result.code == 0
    assert [(p["project"], p.get("version")) for p in result.json()] == [
        ("percolate", "0.3.0"),
        ("percolate-reading", None),
    ]
