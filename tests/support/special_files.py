"""What a test of "a clean error, never a hang" needs: the CLI run in a subprocess that is killed after a guard
time, and the paths that are not regular files (a FIFO, a socket, a device) made for real in a folder."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, CliResult

# Long enough for a cold start on a loaded machine; a command that blocks on a FIFO or expands an alias
# chain runs past it (and is killed), so a regression fails within this time instead of hanging the suite.
GUARD_SECONDS = 20.0
KINDS = ("fifo", "socket", "device")
# How the refusal names each kind (pipelines.edges.files).
KIND_WORDS = {"fifo": "named pipe (FIFO)", "socket": "socket", "device": "character device"}


def run_guarded(*args: str, module: str = "pipelines", cwd: Path | None = None) -> CliResult:
    """`python -m MODULE ARGS` in a subprocess; the test fails, naming the command, if it is still running
    after GUARD_SECONDS."""
    # No GitHub context, and no webhook: a notification is never sent from a test.
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("GITHUB_") and not k.endswith("_WEBHOOK_URL")
    }
    environment["PYTHONPATH"] = str(REPO_ROOT)
    try:
        result = subprocess.run(
            [sys.executable, "-m", module, *args],
            check=False,
            cwd=cwd or REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=GUARD_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`python -m {module} {' '.join(args)}` was still running after {GUARD_SECONDS:g} s (it hangs)")
    return CliResult(result.returncode, result.stdout, result.stderr)


@contextmanager
def special_file(folder: Path, name: str, kind: str) -> Iterator[Path]:
    """`folder/name` made as a FIFO, a listening Unix socket, or a character device node of its own (the null
    device's numbers), for the block. Never a link to /dev/null: a regression that writes where it should have
    refused (a write-back replaces its target) would replace the machine's /dev/null with a regular file.
    A socket is bound by a relative name (an absolute one may pass the 108-byte limit of its address)."""
    path = folder / name
    if kind == "fifo":
        os.mkfifo(path)
        yield path
    elif kind == "socket":
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        here = Path.cwd()
        os.chdir(folder)
        try:
            listener.bind(name)
        finally:
            os.chdir(here)
        try:
            yield path
        finally:
            listener.close()
    elif kind == "device":
        try:
            os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs CAP_MKNOD")
        yield path
    else:
        raise ValueError(kind)
