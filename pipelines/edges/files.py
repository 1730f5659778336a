"""Files on disk: replaced atomically (a failure never leaves one half-written, alone or as a set), locked
against concurrent writers, read with size and encoding limits, hashed, the JSON records one command leaves
for the next read back, and YAML files read with errors that name the line.

Every file a user names is opened through `open_regular`, the one check that it is a regular file: a FIFO,
a socket or a device where a file belongs is refused at once instead of blocking the command forever."""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pipelines.core.errors import InputError, PipelineError, Unavailable

if TYPE_CHECKING:
    import yaml

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


def _temp_beside(path: Path, write: Callable[[Path], None]) -> Path:
    """A temp file beside `path` that `write` filled, synced to disk, with `path`'s mode; none left on failure."""
    import tempfile  # here: it loads shutil and the compression modules, which a command that only reads never needs

    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(name)
    try:
        write(temp)
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _sync_folder(folder: Path) -> None:
    """Sync `folder`: a rename inside it survives a crash only once the folder is synced."""
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def atomic_replace(path: Path, write: Callable[[Path], None]) -> None:
    """Have `write` fill a temp file beside `path`, fsync it, and rename it over `path` (keeping its mode).

    A failure at any point (an exception, a signal, a full disk) leaves `path` as it was and no temp file.
    """
    temp = _temp_beside(path, write)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)


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
            temps.append((_temp_beside(path, partial(_write_text, text=text)), path))
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
        _sync_folder(folder)


# What a path that is not a regular file is, for the message that refuses it.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _not_a_file(name: str, mode: int, fix: str) -> InputError:
    kind = next((kind for test, kind in _KINDS if test(mode)), "not a regular file")
    return InputError(f"{name} is {kind}, not a file", hint=fix)


@contextmanager
def open_regular(path: Path, *, fix: str, what: str = "") -> Iterator[BinaryIO]:
    """`path` opened for binary reading, once it is known to be a regular file: a folder, a FIFO, a socket or a
    device is an InputError naming what it is, with `fix` as hint. Reading a FIFO waits for a writer and a
    device may never end, so the kind is checked by stat before the open (nothing else is opened at all), and
    again on the opened descriptor, in case another file was put there in between; the open itself does not
    block (O_NONBLOCK), and blocking reads are restored once the file is known to be regular. A missing file
    is a FileNotFoundError, for the caller to word; any other failure to open is an InputError."""
    name = f"{what} {path}" if what else str(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise _not_a_file(name, mode, fix)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}", hint=fix) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_a_file(name, mode, fix)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        yield handle


def read_bytes(path: Path, *, fix: str, limit: int | None = None, what: str = "") -> bytes:
    """A regular file's bytes, at most `limit`; missing, not a regular file (a folder, a FIFO, a device),
    unreadable or too large is an InputError naming the problem with `fix` as hint. No more than `limit` + 1
    bytes are ever read."""
    name = f"{what} {path}" if what else str(path)
    try:
        with open_regular(path, fix=fix, what=what) as handle:
            data = handle.read(limit + 1) if limit is not None else handle.read()
    except FileNotFoundError:
        raise InputError(f"{name} not found (the path does not exist)", hint=fix) from None
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}", hint=fix) from None
    if limit is not None and len(data) > limit:
        raise InputError(f"{name} is larger than {limit} bytes; it was not parsed", hint=fix)
    return data


def read_text(path: Path, *, fix: str, limit: int | None = None, what: str = "") -> str:
    """A UTF-8 text file, as `read_bytes` reads it; not UTF-8 is an InputError too. The size is checked
    before anything is decoded."""
    data = read_bytes(path, fix=fix, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        name = f"{what} {path}" if what else str(path)
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

        from pipelines.edges.retry import Deadline, Retrier, Retry, RetryPolicy

        def take() -> bool | Retry:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return Retry("held by another write")
            return True

        # The one retry loop, checking every 10-20 ms (jittered, so that waiting writers do not wake together).
        policy = RetryPolicy(max_time=timeout, max_attempts=sys.maxsize, base_delay=0.02, max_delay=0.02)
        try:
            Retrier(policy, Deadline(timeout)).run(take, f"the lock {lock}", hint="")
        except Unavailable:
            raise Unavailable(
                f"another write to {path} has held {lock} for more than {timeout:g} s; nothing was written",
                hint="wait for the other run to finish and re-run",
            ) from None
        yield
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks of 1 MiB."""
    import hashlib  # here, as in `pipelines.core.digests`: its OpenSSL binding takes 1-2 ms to load

    digest = hashlib.sha256()
    with open_regular(path, fix="pass a regular file") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json_object(path: Path, what: str, source: str) -> dict[str, Any]:
    """The JSON object in `path`, a `what` that `source` printed; InputError saying so when it is not one."""
    hint = f"pass the output of `{source}`"
    raw = read_bytes(path, fix=hint, what=what)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
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


def yaml_input_error(where: Path | str, error: Exception, hint: str) -> InputError:
    """A YAML parse error as an InputError naming the file, the line and the problem (PyYAML's marks)."""
    mark = getattr(error, "problem_mark", None)
    line = f"line {mark.line + 1}: " if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error)
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    started = f" ({context} started on line {context_mark.line + 1})" if context and context_mark else ""
    return InputError(f"cannot read {where}: {line}{problem}{started}", hint=hint)


def read_yaml(path: Path, *, fix: str) -> Any:
    """A YAML file's document; a missing, unreadable or malformed file is an InputError with `fix` as hint."""
    import yaml  # only the commands that read YAML pay for it

    text = read_text(path, fix=fix)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise yaml_input_error(path, error, fix) from None


def load_plain_yaml(text: str, where: str, *, hint_end: str, positions: bool = False) -> tuple[Any, yaml.Node | None]:
    """The document in `text` and its node tree, for YAML that must be plain: an anchor or an alias, a key
    repeated in its mapping (Pulumi refuses those; PyYAML would keep the last) or nesting beyond MAX_NESTING
    is an InputError naming `where` and the line, its hint ending with `hint_end`. Anchors and aliases are
    found in the parser's event stream before anything is composed: a chain of aliases a few hundred bytes
    long expands to billions of nodes in whatever walks the document. With `positions`, the tree is PyYAML's
    own, whose marks index characters (as edits of the text need); without, libyaml's, ten times faster."""
    import yaml

    # The same parser finds the anchors and composes, so a text is judged by one grammar and its errors worded once.
    loader = yaml.SafeLoader if positions else getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for event in yaml.parse(text, Loader=loader):
            anchor = getattr(event, "anchor", None)  # an alias event names the anchor it repeats
            if anchor is not None:
                sign = "an alias *" if isinstance(event, yaml.AliasEvent) else "an anchor &"
                line = event.start_mark.line + 1 if event.start_mark is not None else "?"
                raise InputError(
                    f"{where}: line {line}: {sign}{anchor}; this file takes no anchors or aliases",
                    hint=f"write the values out in full where each alias stands, and drop the anchor; {hint_end}",
                )
        root = yaml.compose(text, Loader=loader)
        problem = _tree_problem(root)
        if problem is not None:
            node, what, hint = problem
            raise InputError(f"{where}: line {node.start_mark.line + 1}: {what}", hint=f"{hint}{hint_end}")
        return (yaml.SafeLoader("").construct_document(root) if root is not None else None), root
    except yaml.YAMLError as error:
        raise yaml_input_error(where, error, f"fix the YAML; {hint_end}") from None
    except RecursionError:
        raise InputError(f"{where} is nested too deeply", hint=f"fix the YAML; {hint_end}") from None
    except (ValueError, TypeError, OverflowError) as error:  # a tagged value its tag cannot build: !!int abc
        raise InputError(f"cannot read {where}: {error}", hint=f"fix the YAML; {hint_end}") from None


def _tree_problem(root: yaml.Node | None) -> tuple[yaml.Node, str, str] | None:
    """The first key that repeats a key of its mapping, or the first node nested deeper than MAX_NESTING:
    the node, the problem and the start of its hint. Iterative, and linear in a tree without aliases."""
    import yaml

    stack: list[tuple[yaml.Node, int]] = [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            return node, f"nested more than {MAX_NESTING} levels deep", "fix the YAML; "
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        return (
                            key,
                            f"duplicate key {key.value!r}",
                            "keep one of the keys (Pulumi refuses the file as it is); ",
                        )
                    seen.add(key.value)
                stack += [(key, depth + 1), (value, depth + 1)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, depth + 1) for item in node.value]
    return None
