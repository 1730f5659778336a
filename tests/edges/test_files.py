"""Files: atomic replacement, hashing, reading back the JSON records commands leave, and refusing what is not a
regular file."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.core.errors import InputError, Unavailable
from pipelines.edges import files
from pipelines.edges.files import atomic_write_text, file_sha256, locked, read_json_object, read_text, read_yaml
from tests.support.special_files import GUARD_SECONDS, KIND_WORDS, KINDS, special_file


def test_atomic_write_replaces_keeps_the_mode_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    path.chmod(0o600)
    atomic_write_text(path, "new ✓\n")
    assert path.read_text(encoding="utf-8") == "new ✓\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_file_sha256_reads_large_files_in_chunks(tmp_path):
    data = b"x" * (3 << 20) + b"tail"
    (tmp_path / "big").write_bytes(data)
    assert file_sha256(tmp_path / "big") == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "record {path} not found"), ("{", "is not JSON"), ("[1]", "is not a record"), (b"\xff", "is not JSON")],
)
def test_read_json_object_names_the_problem(tmp_path, content, message):
    path = tmp_path / "r.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_json_object(path, "record", "python -m pipelines x --json")
    assert message.format(path=path) in caught.value.message
    assert "python -m pipelines x --json" in str(caught.value.hint)
    path.write_text('{"a": 1}')
    assert read_json_object(path, "record", "x") == {"a": 1}


# --- issue 21, item 7: a FIFO, a socket or a device where a file belongs is refused at once


def guarded(call: Callable[[], object], fifo: Path | None = None) -> BaseException | None:
    """Run `call` in a thread; what it raised (None if nothing). A call still running after the guard time
    fails the test, after a writer on `fifo` has let a blocked open or read go."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as error:  # handed to the test
            raised.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD_SECONDS)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer comes and goes: the reader sees EOF
        pytest.fail(f"still running after {GUARD_SECONDS:g} s: it blocks on a file that is not regular")
    return raised[0] if raised else None


READERS = {
    "read_bytes": lambda path: files.read_bytes(path, fix="fix"),
    "read_text": lambda path: read_text(path, fix="fix", limit=10),
    "read_json_object": lambda path: read_json_object(path, "record", "x"),
    "read_yaml": lambda path: read_yaml(path, fix="fix"),
    "file_sha256": file_sha256,
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reader", list(READERS))
def test_every_reader_refuses_a_file_that_is_not_regular(tmp_path, reader, kind):
    with special_file(tmp_path, "f", kind) as path:
        error = guarded(lambda: READERS[reader](path), path if kind == "fifo" else None)
    assert isinstance(error, InputError), error
    assert error.message.endswith(f"{path} is a {KIND_WORDS[kind]}, not a file")


def test_a_folder_is_named_as_one(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a file"):
        files.read_bytes(tmp_path, fix="fix")


def test_a_fifo_swapped_in_after_the_stat_is_caught_on_the_opened_descriptor(tmp_path, monkeypatch):
    """The race: the path was a regular file when stat looked, and is a FIFO when it is opened. The open does
    not block (O_NONBLOCK), and fstat of the descriptor refuses it."""
    regular = tmp_path / "regular"
    regular.write_text("x")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    real_stat = os.stat

    def stat_before_the_swap(path, *args, **kwargs):
        return real_stat(regular if isinstance(path, (str, Path)) and Path(path) == fifo else path, *args, **kwargs)

    monkeypatch.setattr(files.os, "stat", stat_before_the_swap)
    error = guarded(lambda: files.read_bytes(fifo, fix="fix"), fifo)
    assert isinstance(error, InputError) and "is a named pipe (FIFO)" in error.message


def test_a_regular_file_reads_as_before_and_blocking_is_restored(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1000)
    with files.open_regular(path, fix="fix") as handle:
        assert os.get_blocking(handle.fileno())
        assert handle.read() == b"abc" * 1000
    assert files.read_bytes(path, fix="fix", limit=3000) == b"abc" * 1000
    with pytest.raises(InputError, match="larger than 2999 bytes"):
        files.read_bytes(path, fix="fix", limit=2999)
    with pytest.raises(InputError, match="not found"):
        files.read_bytes(tmp_path / "missing", fix="fix")


def _hold(path: Path) -> int:
    """Take the lock `locked` takes, as another process's write would; returns the descriptor holding it."""
    import fcntl

    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_a_lock_held_past_the_timeout_is_unavailable_and_nothing_runs(tmp_path):
    target = tmp_path / "Pulumi.prod.yaml"
    holder = _hold(target)
    ran = []
    try:
        with (
            pytest.raises(Unavailable, match=r"has held .*\.Pulumi\.prod\.yaml\.lock for more than 0\.3 s"),
            locked(target, timeout=0.3),
        ):
            ran.append(True)
    finally:
        os.close(holder)
    assert ran == []


def test_a_lock_released_while_waiting_is_taken(tmp_path):
    target = tmp_path / "Pulumi.prod.yaml"
    holder = _hold(target)
    threading.Timer(0.1, os.close, args=(holder,)).start()
    with locked(target, timeout=30):
        taken = True
    assert taken
