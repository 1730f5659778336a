"""Files on disk: replaced atomically (a failure never leaves one half-written, alone or as a set), locked
against concurrent writers, read with size and encoding limits, hashed, the JSON records one command leaves
for the next read back, and YAML files read with errors that name the line."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.core.errors import InputError, PipelineError, Unavailable

# JSON and YAML nested deeper than this are refused (the parsers recurse; Python's stack would overflow first).
MAX_NESTING = 100
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def write_failed(path: Path, error: OSError) -> PipelineError:
    """A failed write as an error by cause: a permission problem is the user's (exit 2), a full or failing
    disk is an outage (exit 1). Either way nothing was changed."""
    reason = error.strerror or str(error)
    if error.errno in _NOT_WRITABLE:
        return InputError(f"cannot write {path}: {reason}", hint="make the file and its folder writable, and re-run")
    return Unavailable(f"cannot write {path}: {reason}; nothing was changed", hint="free space on the disk and re-run")


def _write_text(temp: Path, text: str) -> None:
    """Fill `temp` with `text` (UTF-8, line endings as given); the one place text reaches the disk."""
    temp.write_text(text, encoding="utf-8", newline="")


def atomic_replace(path: Path, write: Callable[[Path], None]) -> None:
    """Have `write` fill a temp file beside `path`, fsync it, and rename it over `path` (keeping its mode).

    A failure at any point (an exception, a signal, a full disk) leaves `path` as it was and no temp file.
    """
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temp))
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash only once the folder is synced
    finally:
        os.close(directory)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8, line endings as given) atomically; a failed write is a PipelineError."""
    atomic_write_texts([(path, text)])


def atomic_write_texts(files: Sequence[tuple[Path, str]]) -> None:
    """Replace every file with its text, all or nothing: every temp file is written and synced before the
    first rename, and should a rename fail, the files already replaced get their old bytes back."""
    temps: list[tuple[Path, Path]] = []
    done: list[tuple[Path, bytes | None]] = []
    path = files[0][0] if files else Path()
    try:
        for path, text in files:
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            temps.append((Path(name), path))
            _write_text(Path(name), text)
            with open(name, "rb") as handle:
                os.fsync(handle.fileno())
            if path.exists():
                os.chmod(name, path.stat().st_mode & 0o7777)
        for temp, path in temps:
            old = path.read_bytes() if path.exists() else None
            os.replace(temp, path)
            done.append((path, old))
    except BaseException as error:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        for replaced, old in reversed(done):
            if old is None:
                replaced.unlink(missing_ok=True)
            else:
                replaced.write_bytes(old)
        if isinstance(error, OSError):
            raise write_failed(path, error) from None
        raise
    for folder in {p.parent for _, p in temps}:
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read_text(path: Path, *, fix: str, limit: int | None = None, what: str = "") -> str:
    """A UTF-8 text file, at most `limit` bytes; missing, a folder, unreadable, too large or not UTF-8 is an
    InputError naming the problem with `fix` as hint. The size is checked before anything is decoded."""
    name = f"{what} {path}" if what else str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1) if limit is not None else handle.read()
    except FileNotFoundError:
        raise InputError(f"{name} not found", hint=fix) from None
    except IsADirectoryError:
        raise InputError(f"{name} is a folder, not a file", hint=fix) from None
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}", hint=fix) from None
    if limit is not None and len(data) > limit:
        raise InputError(f"{name} is larger than {limit} bytes; it was not parsed", hint=fix)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{name} is not UTF-8 text (byte {error.start})", hint=fix) from None


def check_writable(path: Path) -> None:
    """Refuse (InputError) a target that cannot be replaced: a folder, a read-only file (by its mode, even
    for root), or a folder where no file can be created."""
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file", hint="pass the file itself")
    for target, what in ((path, "file"), (path.parent, "folder")):
        if what == "file" and not target.exists():
            continue
        mode = target.stat().st_mode
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
            where = path if what == "file" else f"the folder of {path}"
            raise InputError(f"{where} is read-only; nothing was written", hint=f"make the {what} writable, and re-run")


@contextmanager
def locked(path: Path, *, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on `path` (flock on `.NAME.lock` beside it) for the block; wait at most
    `timeout` seconds for another holder, then raise Unavailable saying so."""
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise write_failed(lock, error) from None
    try:
        import fcntl

        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Unavailable(
                        f"another write to {path} has held {lock} for more than {timeout:g} s; nothing was written",
                        hint="wait for the other run to finish and re-run",
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks of 1 MiB."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json_object(path: Path, what: str, source: str) -> dict[str, Any]:
    """The JSON object in `path`, a `what` that `source` printed; InputError saying so when it is not one."""
    hint = f"pass the output of `{source}`"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {path} not found", hint=f"save the output of `{source}` to it") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a folder, not a file", hint=hint) from None
    except OSError as error:
        raise InputError(f"cannot read {what} {path}: {error.strerror or error}", hint=hint) from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not JSON: {error}", hint=hint) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not JSON: {error}", hint=hint) from None
    except RecursionError:
        raise InputError(f"{path} is nested too deeply to be a {what}", hint=hint) from None
    if _depth(data) > MAX_NESTING:
        raise InputError(f"{path} is nested more than {MAX_NESTING} levels deep", hint=hint)
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a {what}", hint=hint)
    return data


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in `value` (iteratively: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_NESTING:
                    return depth + 1
                stack.append((child, depth + 1))
        deepest = max(deepest, depth)
    return deepest


def yaml_input_error(path: Path, error: Exception, hint: str) -> InputError:
    """A YAML parse error as an InputError naming the file, the line and the problem (PyYAML's marks)."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    started = f" ({context} started on line {context_mark.line + 1})" if context and context_mark else ""
    return InputError(f"cannot read {path}: {where}{problem}{started}", hint=hint)


def read_yaml(path: Path, *, fix: str) -> Any:
    """A YAML file's document; a missing, unreadable or malformed file is an InputError with `fix` as hint."""
    import yaml  # only the commands that read YAML pay for it

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} does not exist", hint=fix) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}", hint=fix) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise yaml_input_error(path, error, fix) from None
