"""The version files of the catalog's projects on disk (pyproject.toml, Cargo.toml, Cargo.lock): read and bumped.

Reads go through `tomllib`; bumps through `tomlkit`, which rewrites only the
version value so comments, key order, quoting and every other byte stay as they
were. A bump prepares every file first and replaces them only when all parsed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import String

from pipelines.core.catalog import Project
from pipelines.core.errors import InputError
from pipelines.core.version_check import VersionReading
from pipelines.core.versions import ProjectVersion, parse_cargo, parse_pep440
from pipelines.edges.files import atomic_write_text, atomic_write_texts, open_regular

CARGO_KEY = ("package", "version")
PYPROJECT_KEY = ("project", "version")


@dataclass(frozen=True)
class FileChange:
    """One file a bump rewrote (or would rewrite): its path and the old and new version text."""

    path: str
    key: str
    old: str
    new: str


def _is_cargo_manifest(path: str) -> bool:
    return Path(path).name == "Cargo.toml"


def _dig(document: Any, key: tuple[str, ...]) -> Any:
    node = document
    for part in key:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class VersionFiles:
    """The version files of a monorepo checkout rooted at `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _load(self, relative: str) -> tuple[str, dict[str, Any]]:
        path = self.root / relative
        try:
            with open_regular(path, what="version file", fix=f"make {relative} a regular file") as handle:
                text = handle.read().decode("utf-8")  # a FIFO or device there is refused, never read
        except FileNotFoundError:
            raise InputError(
                f"version file {relative} not found under {self.root}",
                hint="run from the monorepo (or pass --root DIR pointing at it)",
            ) from None
        except UnicodeDecodeError as error:
            raise InputError(
                f"version file {relative} is not UTF-8 text (byte {error.start})", hint=f"save {relative} as UTF-8"
            ) from None
        except OSError as error:
            raise InputError(
                f"cannot read version file {relative}: {error.strerror or error}",
                hint=f"make {relative} a readable file",
            ) from None
        try:
            return text, tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"{relative} is not valid TOML: {error}", hint=f"fix the syntax of {relative}") from None
        except RecursionError:
            raise InputError(f"{relative} is nested too deeply", hint=f"fix the syntax of {relative}") from None

    def read(self, project: Project) -> tuple[VersionReading, ...]:
        """One reading per version file, plus the crate's own Cargo.lock entry when a lock file exists."""
        readings = []
        for relative in project.version_files:
            _, data = self._load(relative)
            if _is_cargo_manifest(relative):
                readings.append(_reading(relative, data, CARGO_KEY, parse_cargo))
                lock = Path(relative).with_name("Cargo.lock").as_posix()
                if (self.root / lock).exists():
                    readings.append(self._lock_reading(lock, data))
            else:
                readings.append(_reading(relative, data, PYPROJECT_KEY, parse_pep440))
        return tuple(readings)

    def _lock_reading(self, lock: str, manifest: dict[str, Any]) -> VersionReading:
        crate = _dig(manifest, ("package", "name"))
        key = f"[[package]] name = {crate!r}"
        _, data = self._load(lock)
        # The workspace's own crate is the entry without a `source`; registry crates carry one.
        entries = [p for p in _lock_packages(lock, data) if p.get("name") == crate and "source" not in p]
        if len(entries) != 1:
            return VersionReading(lock, key, "", None, problem=f"no single entry for crate {crate!r}; run cargo update")
        return _reading(lock, entries[0], ("version",), parse_cargo, label=key)

    def plan_bump(self, project: Project, version: ProjectVersion) -> list[tuple[Path, str, FileChange]]:
        """Every file a bump would rewrite, with its new text; reads all before anything is written."""
        planned = []
        for relative in project.version_files:
            if _is_cargo_manifest(relative):
                planned.append(self._bump_text(relative, CARGO_KEY, version.cargo()))
                lock = Path(relative).with_name("Cargo.lock").as_posix()
                if (self.root / lock).exists():
                    crate = str(_dig(self._load(relative)[1], ("package", "name")))
                    planned.append(self._bump_lock_text(lock, crate, version.cargo()))
            else:
                planned.append(self._bump_text(relative, PYPROJECT_KEY, version.pep440()))
        return planned

    def bump(self, project: Project, version: ProjectVersion, *, dry_run: bool = False) -> list[FileChange]:
        """Set every version file of `project` to `version`; returns what changed."""
        planned = self.plan_bump(project, version)
        if not dry_run:  # all or nothing: a failed write (a full disk) leaves every file as it was
            atomic_write_texts([(path, text) for path, text, change in planned if change.old != change.new])
        return [change for _, _, change in planned]

    def _bump_text(self, relative: str, key: tuple[str, ...], new: str) -> tuple[Path, str, FileChange]:
        text, _ = self._load(relative)
        new_text, old = replace_toml_string(text, key, new, where=relative)
        return self.root / relative, new_text, FileChange(relative, ".".join(key), old, new)

    def set_pyproject_version(self, relative: str, version: ProjectVersion, *, dry_run: bool = False) -> FileChange:
        """Set only the pyproject.toml at `relative` to `version` (an RC build's workspace); returns the change."""
        path, text, change = self._bump_text(relative, PYPROJECT_KEY, version.pep440())
        if not dry_run and change.old != change.new:
            atomic_write_text(path, text)
        return change

    def _bump_lock_text(self, lock: str, crate: str, new: str) -> tuple[Path, str, FileChange]:
        text, _ = self._load(lock)
        document = tomlkit.parse(text)
        entries = [p for p in _lock_packages(lock, document) if p.get("name") == crate and "source" not in p]
        if len(entries) != 1 or not isinstance(entries[0].get("version"), String):
            raise InputError(
                f"{lock} has no single entry for crate {crate!r} with a version", hint="run cargo update, then bump"
            )
        old = _replace_string(entries[0], "version", new)
        key = f"[[package]] name = {crate!r}"
        return self.root / lock, tomlkit.dumps(document), FileChange(lock, key, old, new)


def _lock_packages(lock: str, data: Any) -> list[Any]:
    """The `[[package]]` entries of a Cargo.lock; InputError when `package` is not an array of tables."""
    packages = data.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise InputError(f"{lock}: package is not an array of tables ([[package]])", hint="regenerate it: cargo update")
    return packages


def replace_toml_string(text: str, key: tuple[str, ...], new: str, *, where: str) -> tuple[str, str]:
    """Set the string at `key` in TOML `text`, changing no other byte; returns (new text, old value).

    `where` names the file in the InputError raised when the key is not a static string.
    """
    document = tomlkit.parse(text)
    table = _dig(document, key[:-1])
    if not isinstance(table, dict) or not isinstance(table.get(key[-1]), String):  # `[[package]]` is a list
        raise InputError(
            f"{where} has no static string {'.'.join(key)}",
            hint=f'declare {key[-1]} = "X.Y.Z" under [{".".join(key[:-1])}] (dynamic versions are not supported)',
        )
    old = _replace_string(table, key[-1], new)
    return tomlkit.dumps(document), old


def _replace_string(table: Any, key: str, new: str) -> str:
    """Replace a string value in place, keeping its quoting style; its comment stays with the key."""
    old_item = table[key]
    table[key] = tomlkit.string(new, literal=old_item.type.is_literal())
    return str(old_item)


def _reading(
    relative: str,
    data: dict[str, Any],
    key: tuple[str, ...],
    parse: Callable[[str], ProjectVersion],
    *,
    label: str | None = None,
) -> VersionReading:
    label = label or ".".join(key)
    raw = _dig(data, key)
    if not isinstance(raw, str):
        return VersionReading(relative, label, "", None, problem=f"no static string {'.'.join(key)}")
    try:
        return VersionReading(relative, label, raw, parse(raw))
    except InputError as error:
        return VersionReading(relative, label, raw, None, problem=error.message)
