"""`versions set-rc`: the build side of wheel promotion, on a temp git copy of the example monorepo."""

from __future__ import annotations

import tomllib

import pytest

ROCKS_PYPROJECT = "percolate-rocks/pyproject.toml"
UNTOUCHED = ("percolate-rocks/Cargo.toml", "percolate-rocks/Cargo.lock", "percolate/pyproject.toml")


def set_rc(cli, monorepo, tag: str, *extra: str):
    return cli("versions", "set-rc", "--tag", tag, "--root", str(monorepo.root), *extra)


def test_only_the_pyproject_version_changes(cli, monorepo):
    before = {path: (monorepo.root / path).read_bytes() for path in (ROCKS_PYPROJECT, *UNTOUCHED)}
    result = set_rc(cli, monorepo, "percolate-rocks-v0.2.0-rc3", "--json")
    assert result.code == 0, result.stderr
    assert result.json()["files"] == [
        {"path": ROCKS_PYPROJECT, "key": "project.version", "old": "0.2.0", "new": "0.2.0rc3"}
    ]
    after = (monorepo.root / ROCKS_PYPROJECT).read_bytes()
    # One value changed; its comment, quoting and every other byte stayed.
    assert after == before[ROCKS_PYPROJECT].replace(b'version = "0.2.0"', b'version = "0.2.0rc3"', 1)
    assert tomllib.loads(after.decode())["project"]["version"] == "0.2.0rc3"
    for path in UNTOUCHED:
        assert (monorepo.root / path).read_bytes() == before[path], path
    assert monorepo.git("status", "--porcelain") == f"M {ROCKS_PYPROJECT}"


def test_running_again_changes_nothing(cli, monorepo):
    assert set_rc(cli, monorepo, "percolate-rocks-v0.2.0-rc3").code == 0
    again = set_rc(cli, monorepo, "percolate-rocks-v0.2.0-rc3")
    assert again.code == 0
    assert "already 0.2.0rc3" in again.stdout


def test_dry_run_writes_nothing(cli, monorepo):
    result = set_rc(cli, monorepo, "percolate-rocks-v0.2.0-rc1", "--dry-run")
    assert result.code == 0
    assert result.stdout.startswith("would set")
    assert monorepo.git("status", "--porcelain") == ""


def test_an_image_project_with_a_pyproject_works_too(cli, monorepo):
    result = set_rc(cli, monorepo, "percolate-v0.1.0-rc2", "--json")
    assert result.code == 0, result.stderr
    assert result.json()["version"] == "0.1.0rc2"
    assert monorepo.git("status", "--porcelain") == "M percolate/pyproject.toml"


@pytest.mark.parametrize(
    ("tag", "code", "needle"),
    [
        ("percolate-rocks-v0.2.0", 2, "is a release tag"),
        ("percolate-rocks-v0.3.0-rc1", 1, "the tag says 0.3.0"),
        ("percolate-rocks-v0.2.0-rc01", 2, "leading zero"),
        ("nonsense", 2, "unknown project"),
    ],
)
def test_refusals_change_nothing(cli, monorepo, tag, code, needle):
    result = set_rc(cli, monorepo, tag)
    assert result.code == code
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert monorepo.git("status", "--porcelain") == ""


def test_version_files_that_disagree_are_refused(cli, monorepo):
    cargo = monorepo.root / "percolate-rocks/Cargo.toml"
    cargo.write_text(cargo.read_text().replace('version = "0.2.0"', 'version = "0.2.1"', 1))
    result = set_rc(cli, monorepo, "percolate-rocks-v0.2.0-rc1")
    assert result.code == 1
    assert "Cargo.toml" in result.stderr
    assert (monorepo.root / ROCKS_PYPROJECT).read_text().count('version = "0.2.0"') == 1


def test_a_workspace_set_to_another_rc_is_refused(cli, monorepo):
    assert set_rc(cli, monorepo, "percolate-rocks-v0.2.0-rc1").code == 0
    result = set_rc(cli, monorepo, "percolate-rocks-v0.2.0-rc2")
    assert result.code == 1
    assert "0.2.0rc1" in result.stderr
