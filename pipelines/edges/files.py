"""Files on disk: replaced atomically (a failure never leaves one half-written), hashed, the JSON
records one command leaves for the next read back, and YAML files read with errors that name the line."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipelines.core.errors import InputError


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
    """Replace `path` with `text` (UTF-8, line endings as given) atomically."""

    def write(temp: Path) -> None:
        temp.write_text(text, encoding="utf-8", newline="")

    atomic_replace(path, write)


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
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} {path} not found", hint=f"save the output of `{source}` to it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not JSON: {error}", hint=hint) from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a {what}", hint=hint)
    return data


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
