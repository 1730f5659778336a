"""Bad input as an unlucky operator gives it (issue 12): each a clean exit 1 or 2 naming the problem,
nothing half-written, no traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ROCKS = ("percolate-rocks/Cargo.toml", "percolate-rocks/Cargo.lock", "percolate-rocks/pyproject.toml")


def clean(result, code: int | None = None) -> None:
    assert result.code in ((code,) if code else (1, 2)), (result.code, result.stderr)
    assert "Traceback" not in result.stderr and "error:" in result.stderr


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- item 6: a bump is all or nothing


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_a_failed_write_leaves_every_version_file_as_it_was(monorepo, monkeypatch, capsys, failing):
    from pipelines import cli
    from pipelines.edges import files

    before = snapshot(monorepo.root)
    written = []
    real = files._write_text

    def disk_fills(temp, text):
        written.append(temp)
        if len(written) == failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(temp, text)

    monkeypatch.setattr(files, "_write_text", disk_fills)
    code = cli.main(["versions", "bump", "percolate-rocks", "0.9.0", "--root", str(monorepo.root)])
    assert code == 1
    assert "No space left on device" in capsys.readouterr().err
    assert snapshot(monorepo.root) == before


def test_a_failed_rename_puts_back_the_files_already_replaced(monorepo, monkeypatch, capsys):
    from pipelines import cli
    from pipelines.edges import files

    before = snapshot(monorepo.root)
    renames = []
    real = os.replace

    def second_rename_fails(source, target):
        renames.append(target)
        if len(renames) == 2:
            raise OSError(errno.EIO, "Input/output error")
        real(source, target)

    monkeypatch.setattr(files.os, "replace", second_rename_fails)
    code = cli.main(["versions", "bump", "percolate-rocks", "0.9.0", "--root", str(monorepo.root)])
    assert code == 1 and len(renames) == 2
    assert "Input/output error" in capsys.readouterr().err
    assert snapshot(monorepo.root) == before


# --- item 12: bad version files and tags


def test_a_version_file_that_is_not_utf8_is_a_clean_input_error(cli, monorepo):
    path = monorepo.root / "percolate" / "pyproject.toml"
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")
    for args in (("versions", "check"), ("versions", "bump", "percolate", "0.9.0")):
        result = cli(*args, "--root", str(monorepo.root))
        clean(result, 2)
        assert "UTF-8" in result.stderr


def test_a_cargo_lock_with_package_as_a_table_is_a_clean_error(cli, monorepo):
    (monorepo.root / "percolate-rocks" / "Cargo.lock").write_text('version = 3\n[package]\nname = "x"\n')
    before = snapshot(monorepo.root)
    for args in (("versions", "check"), ("versions", "bump", "percolate-rocks", "0.9.0")):
        result = cli(*args, "--root", str(monorepo.root))
        clean(result)
        assert "Cargo.lock" in result.stderr
    assert snapshot(monorepo.root) == before


@pytest.mark.parametrize("tag", ["percolate-v0.1.0-rc" + "1" * 5000, "percolate-v" + "1" * 5000 + ".0.0"])
def test_a_tag_number_beyond_pythons_int_limit_is_a_malformed_tag(cli, tag):
    result = cli("tag", "parse", tag)
    clean(result, 2)
    assert "malformed tag" in result.stderr or "too long" in result.stderr


# --- item 10: --sha and GITHUB_OUTPUT


@pytest.mark.parametrize("sha", ["abc1234\nstage=release", "not-hex-at-all", "g" * 40])
@pytest.mark.parametrize("tag", ["percolate-v0.1.0", "percolate-v0.1.0-rc1"])
def test_plan_refuses_a_sha_that_is_not_a_full_hex_commit(cli, monorepo, tmp_path, sha, tag):
    output = tmp_path / "github_output"
    output.write_text("")
    result = cli("plan", tag, "--sha", sha, "--root", str(monorepo.root), env={"GITHUB_OUTPUT": str(output)})
    clean(result, 2)
    assert "--sha" in result.stderr
    assert output.read_text() == ""


def test_a_step_output_value_with_a_nul_or_a_forged_delimiter_is_refused():
    from pipelines.core.errors import InputError
    from pipelines.output import output_entry

    with pytest.raises(InputError):
        output_entry("commit", "abc\x00def")
    assert output_entry("commit", "a\nb").count("ghadelimiter_") == 2


# --- item 12: output piped to a reader that stops early


def test_output_piped_to_head_exits_quietly(monorepo):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    writer = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "plan", "percolate-v0.1.0-rc1", "--root", str(monorepo.root), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert writer.stdout is not None
    writer.stdout.close()  # the reader is gone before the first line
    _, stderr = writer.communicate(timeout=120)
    assert "Traceback" not in stderr.decode() and "BrokenPipeError" not in stderr.decode()
    assert writer.returncode in (0, 1)
