"""Version files on disk: reading, and bumps that change the version value and nothing else."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from pipelines.core.catalog import get_project
from pipelines.core.errors import InputError
from pipelines.core.version_check import check_versions
from pipelines.core.versions import ProjectVersion, parse_version
from pipelines.edges.project_files import VersionFiles

ROCKS = get_project("percolate-rocks")


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def changed_lines(before: bytes, after: bytes) -> list[str]:
    diff = difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_reads_every_rocks_file_including_the_crate_entry_of_cargo_lock(monorepo):
    readings = VersionFiles(monorepo.root).read(ROCKS)
    assert [(r.path, r.raw) for r in readings] == [
        ("percolate-rocks/Cargo.toml", "0.2.0"),
        ("percolate-rocks/Cargo.lock", "0.2.0"),
        ("percolate-rocks/pyproject.toml", "0.2.0"),
    ]
    assert check_versions(ROCKS.name, readings, expected=ProjectVersion(0, 2, 0)).ok


def test_bump_changes_only_the_version_values_and_keeps_comments_and_quoting(monorepo):
    cargo = monorepo.root / "percolate-rocks/Cargo.toml"
    cargo.write_text(cargo.read_text().replace('version = "0.2.0"', "version = '0.2.0'"))
    before = snapshot(monorepo.root)

    changes = VersionFiles(monorepo.root).bump(ROCKS, parse_version("0.3.0rc1"))

    after = snapshot(monorepo.root)
    assert {c.path: (c.old, c.new) for c in changes} == {
        "percolate-rocks/Cargo.toml": ("0.2.0", "0.3.0-rc.1"),
        "percolate-rocks/Cargo.lock": ("0.2.0", "0.3.0-rc.1"),
        "percolate-rocks/pyproject.toml": ("0.2.0", "0.3.0rc1"),
    }
    rewritten = {path for path in before if before[path] != after[path]}
    assert rewritten == set({c.path for c in changes})
    assert changed_lines(before["percolate-rocks/Cargo.toml"], after["percolate-rocks/Cargo.toml"]) == [
        "-version = '0.2.0'  # must equal pyproject.toml's [project].version",
        "+version = '0.3.0-rc.1'  # must equal pyproject.toml's [project].version",
    ]
    assert changed_lines(before["percolate-rocks/pyproject.toml"], after["percolate-rocks/pyproject.toml"]) == [
        '-version = "0.2.0"  # the release tooling keeps this equal to Cargo.toml',
        '+version = "0.3.0rc1"  # the release tooling keeps this equal to Cargo.toml',
    ]
    lock_diff = changed_lines(before["percolate-rocks/Cargo.lock"], after["percolate-rocks/Cargo.lock"])
    assert lock_diff == ['-version = "0.2.0"', '+version = "0.3.0-rc.1"']
    assert check_versions(ROCKS.name, VersionFiles(monorepo.root).read(ROCKS)).ok


def test_bump_leaves_registry_crates_in_cargo_lock_alone(monorepo):
    lock = monorepo.root / "percolate-rocks/Cargo.lock"
    lock.write_text(
        lock.read_text() + '\n[[package]]\nname = "percolate-rocks"\nversion = "0.1.0"\nsource = "registry+x"\n'
    )
    VersionFiles(monorepo.root).bump(ROCKS, parse_version("0.4.0"))
    assert lock.read_text().count('version = "0.4.0"') == 1
    assert 'version = "0.1.0"\nsource = "registry+x"' in lock.read_text()


def test_dry_run_writes_nothing(monorepo):
    before = snapshot(monorepo.root)
    changes = VersionFiles(monorepo.root).bump(ROCKS, parse_version("9.9.9"), dry_run=True)
    assert {c.new for c in changes} == {"9.9.9"}
    assert snapshot(monorepo.root) == before


def test_bump_writes_nothing_when_any_file_cannot_be_bumped(monorepo):
    pyproject = monorepo.root / "percolate-rocks/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.2.0"', 'dynamic = ["version"]'))
    before = snapshot(monorepo.root)
    with pytest.raises(InputError, match=r"no static string project.version"):
        VersionFiles(monorepo.root).bump(ROCKS, parse_version("0.3.0"))
    assert snapshot(monorepo.root) == before


def test_unreadable_files_are_input_errors_naming_the_file(monorepo):
    files = VersionFiles(monorepo.root)
    (monorepo.root / "percolate/pyproject.toml").write_text("[project\nversion=")
    with pytest.raises(InputError, match=r"percolate/pyproject.toml is not valid TOML"):
        files.read(get_project("percolate"))
    (monorepo.root / "percolate-reading/pyproject.toml").unlink()
    with pytest.raises(InputError, match=r"percolate-reading/pyproject.toml not found"):
        files.read(get_project("percolate-reading"))


def test_a_malformed_version_value_is_a_reading_problem_not_a_crash(monorepo):
    cargo = monorepo.root / "percolate-rocks/Cargo.toml"
    cargo.write_text(cargo.read_text().replace('version = "0.2.0"', 'version = "0.2"'))
    check = check_versions(ROCKS.name, VersionFiles(monorepo.root).read(ROCKS))
    assert not check.ok
    assert any("Cargo.toml" in p and "'0.2'" in p for p in check.problems)


def test_bump_keeps_the_file_mode(monorepo):
    pyproject = monorepo.root / "percolate/pyproject.toml"
    pyproject.chmod(0o640)
    VersionFiles(monorepo.root).bump(get_project("percolate"), parse_version("0.1.1"))
    assert pyproject.stat().st_mode & 0o777 == 0o640
    assert not list(pyproject.parent.glob(".*.tmp"))
