"""The stack file as an unlucky operator meets it (issue 12): odd history, concurrent writers, CRLF,
symlinks, read-only files, bad bytes and sizes. Each refusal is a clean exit naming the problem."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.core.errors import PipelineError, Unavailable
from pipelines.deploy.write_back import StackFile
from tests.conftest import REPO_ROOT

GOLDEN = Path(__file__).parent / "data" / "Pulumi.prod.golden.yaml"
PIPELINES = (sys.executable, "-m", "pipelines")


def commit(root: Path, message: str) -> None:
    subprocess.run(["git", "commit", "-qam", message], cwd=root, check=True)


def clean(result) -> None:
    assert result.code in (1, 2), (result.code, result.stderr)
    assert "Traceback" not in result.stderr and "error:" in result.stderr


@pytest.fixture
def stack(tmp_path) -> Path:
    path = tmp_path / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    return path


@pytest.fixture
def record(tmp_path, make_pin, promotion_record):
    def write(project: str, version: str, name: str | None = None) -> Path:
        path = tmp_path / (name or f"{project}-{version}.json")
        path.write_text(json.dumps(promotion_record(make_pin(project, version))))
        return path

    return write


# --- item 3: rollback through a history with a version that is not UTF-8


def test_rollback_skips_a_historic_version_that_is_not_utf8(cli, monorepo, make_pin):
    path = monorepo.root / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    monorepo.commit_all("the prod stack")
    stack = StackFile(path)
    stack.write_pin(make_pin("percolate", "0.2.0"))
    commit(monorepo.root, "deploy 0.2.0")
    path.write_bytes(path.read_bytes() + b"# caf\xe9\n")  # one Latin-1 byte
    commit(monorepo.root, "a comment in Latin-1")
    path.write_bytes(path.read_bytes().replace(b"# caf\xe9\n", b""))
    stack.write_pin(make_pin("percolate", "0.3.0"))
    commit(monorepo.root, "deploy 0.3.0")

    result = cli("rollback", "percolate", "--json", cwd=monorepo.root)
    assert result.code == 0, result.stderr
    assert result.json()["version"] == "0.2.0"
    assert "skipping" in result.stderr and "UTF-8" in result.stderr


def test_rollback_passes_over_a_commit_that_deleted_the_stack_file_without_a_note(cli, monorepo, make_pin):
    """A deletion has no version of the file: nothing to skip and nothing to say (not a 'not UTF-8' note)."""
    path = monorepo.root / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    monorepo.commit_all("the prod stack")
    StackFile(path).write_pin(make_pin("percolate", "0.2.0"))
    commit(monorepo.root, "deploy 0.2.0")
    kept = path.read_bytes()
    subprocess.run(["git", "rm", "-q", "Pulumi.prod.yaml"], cwd=monorepo.root, check=True)
    commit(monorepo.root, "the stack file removed by mistake")
    path.write_bytes(kept)
    monorepo.commit_all("the stack file back")
    StackFile(path).write_pin(make_pin("percolate", "0.3.0"))
    commit(monorepo.root, "deploy 0.3.0")

    result = cli("rollback", "percolate", "--json", cwd=monorepo.root)
    assert result.code == 0, result.stderr
    assert result.json()["version"] == "0.2.0"
    assert "skipping" not in result.stderr


# --- item 5: concurrent writers lose nothing


def test_concurrent_set_image_processes_lose_no_entry(stack, record, make_pin):
    records = {project: record(project, "0.4.0") for project in ("percolate", "percolate-reading")}
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for _ in range(3):
        shutil.copy(GOLDEN, stack)
        processes = [
            subprocess.Popen(
                [
                    *PIPELINES,
                    "stack-config",
                    "set-image",
                    project,
                    "--promotion",
                    str(path),
                    "--stack-config",
                    str(stack),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for project, path in list(records.items()) * 3
        ]
        for process in processes:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr.decode()
        pins = StackFile(stack).images()
        assert pins["percolate"] == make_pin("percolate", "0.4.0")
        assert pins["percolate-reading"] == make_pin("percolate-reading", "0.4.0")


def test_a_file_changed_since_it_was_read_is_not_written(stack, make_pin):
    writer = StackFile(stack)
    writer.images()  # read
    stack.write_text(stack.read_text() + "# a person's edit\n")
    with pytest.raises(PipelineError, match="changed since it was read"):
        writer.write_pin(make_pin("percolate", "0.5.0"))
    assert stack.read_text().endswith("# a person's edit\n")


def test_a_held_lock_gives_up_after_its_wait_with_a_clear_error(stack, make_pin):
    import fcntl

    writer = StackFile(stack, lock_timeout=0.2)
    with open(stack.with_name(f".{stack.name}.lock"), "a") as held:  # where `files.locked` keeps the lock
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(Unavailable, match="another write"):
            writer.write_pin(make_pin("percolate", "0.5.0"))
    assert stack.read_bytes() == GOLDEN.read_bytes()


# --- item 8: line endings, symlinks, read-only files


def test_set_image_keeps_crlf_line_endings(cli, stack, record):
    crlf = GOLDEN.read_bytes().replace(b"\n", b"\r\n")
    stack.write_bytes(crlf)
    result = cli(
        "stack-config", "set-image", "percolate", "--promotion", str(record("percolate", "0.4.0")),
        "--stack-config", str(stack),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    written = stack.read_bytes()
    assert written.count(b"\n") == written.count(b"\r\n")
    before, after = crlf.split(b"\r\n"), written.split(b"\r\n")
    assert len(before) == len(after)
    assert sum(1 for a, b in zip(before, after, strict=True) if a != b) <= 5


def test_a_symlinked_stack_file_stays_a_symlink(cli, stack, record, tmp_path):
    link = tmp_path / "link.yaml"
    link.symlink_to(stack.name)
    result = cli(
        "stack-config", "set-image", "percolate", "--promotion", str(record("percolate", "0.4.0")),
        "--stack-config", str(link),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == stack.name
    assert "0.4.0" in stack.read_text()


def test_a_read_only_stack_file_is_refused(cli, stack, record):
    stack.chmod(0o444)
    result = cli(
        "stack-config", "set-image", "percolate", "--promotion", str(record("percolate", "0.4.0")),
        "--stack-config", str(stack),
    )  # fmt: skip
    clean(result)
    assert "read-only" in result.stderr or "not writable" in result.stderr
    assert stack.read_bytes() == GOLDEN.read_bytes()


# --- items 11 and 12: bad files, each a clean exit


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"config:\n  a: caf\xe9\n", "UTF-8"),
        (b"config:\n  a: 1\n  a: 2\n", "duplicate key"),
        (b"config:\n  x: [" + b"1, " * 400_000 + b"1]\n", "larger than"),
        (b"config:\n  a: !!int abc\n", "invalid literal"),
        (b"config:\n  a: !!timestamp 2025-13-45\n", "month must be"),
        (b"config:\n  a: &x 1\n", "line 2: an anchor &x"),
    ],
    ids=["latin1", "duplicate-key", "oversized", "int-tag-on-a-word", "impossible-timestamp", "anchor"],
)
def test_a_bad_stack_file_is_a_clean_input_error(cli, tmp_path, content, needle):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_bytes(content)
    result = cli("stack-config", "show", "--stack-config", str(path))
    clean(result)
    assert result.code == 2 and needle in result.stderr


def test_a_folder_as_stack_file_is_a_clean_input_error(cli, tmp_path):
    result = cli("stack-config", "show", "--stack-config", str(tmp_path))
    clean(result)
    assert "folder" in result.stderr


def test_a_promotion_record_that_is_a_folder_or_deeply_nested_is_a_clean_error(cli, stack, tmp_path):
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    for promotion in (tmp_path, nested):
        result = cli(
            "stack-config", "set-image", "percolate", "--promotion", str(promotion), "--stack-config", str(stack)
        )
        clean(result)
        assert result.code == 2
    assert stack.read_bytes() == GOLDEN.read_bytes()


def test_a_full_disk_is_a_clean_error_and_leaves_the_file(stack, make_pin, monkeypatch, capsys):
    from pipelines import cli as cli_module
    from pipelines.edges import files

    def full(temp, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_write_text", full)
    code = cli_module.main(["stack-config", "set-image", "percolate", "--stack-config", str(stack)]
                           + ["--version", "0.4.0", "--digest", make_pin("percolate", "0.4.0").digest]
                           + [f"--platform={a}={d}" for a, d in make_pin("percolate", "0.4.0").platforms]
                           + ["--source", make_pin("percolate", "0.4.0").source])  # fmt: skip
    assert code == 1
    assert "No space left" in capsys.readouterr().err
    assert stack.read_bytes() == GOLDEN.read_bytes()
    assert sorted(p.name for p in stack.parent.iterdir()) == sorted(["Pulumi.prod.yaml", ".Pulumi.prod.yaml.lock"])
