"""Rewriting an sdist at another version: its top folder's name, `PKG-INFO` (and an `.egg-info/PKG-INFO`
when setuptools made it) and `pyproject.toml` change; every other member is copied byte for byte, and the
written archive is read back and compared member by member."""

from __future__ import annotations

import copy
import gzip
import io
import posixpath
import tarfile
import tomllib
import zlib
from collections.abc import Callable
from pathlib import Path

from packaging.version import Version

from pipelines.core.errors import Corrupt
from pipelines.edges.files import atomic_replace
from pipelines.edges.project_files import PYPROJECT_KEY, replace_toml_string
from pipelines.wheels.core_metadata import (
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    RewriteReport,
    invalid,
    set_metadata_version,
    text_of,
    version_of,
)
from pipelines.wheels.select import DistributionName, FileKind


def _read_tar(path: Path) -> tuple[list[tarfile.TarInfo], dict[str, bytes], int]:
    """Members, the content of each regular file, and the gzip header's mtime."""
    try:
        with path.open("rb") as handle:
            header = handle.read(10)
        if header[:2] != b"\x1f\x8b":
            raise invalid(path.name, "not a gzip file")
        mtime = int.from_bytes(header[4:8], "little")
        contents: dict[str, bytes] = {}
        members: list[tarfile.TarInfo] = []
        total = 0
        with tarfile.open(path, "r:gz") as archive:
            # Member by member, each refused by its declared size before it is inflated.
            for member in archive:
                members.append(member)
                if len(members) > MAX_MEMBERS:
                    raise invalid(path.name, f"more than {MAX_MEMBERS} members")
                if member.isfile():
                    total += member.size
                    if member.size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                        raise invalid(path.name, f"{member.name} makes it larger than the limits (inflated)")
                    extracted = archive.extractfile(member)
                    assert extracted is not None  # a regular file always has content
                    contents[member.name] = extracted.read(member.size)
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise invalid(path.name, f"not a readable tar.gz archive ({error})") from None
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise invalid(path.name, "the archive holds the same member name twice")
    return members, contents, mtime


def _sdist_base(name: DistributionName) -> str:
    return name.filename[: -len(".tar.gz")]


def _pyproject_version(filename: str, member: str, data: bytes, old: str, new: str) -> bytes | None:
    """The pyproject.toml with [project].version set to `new`; None when the version is dynamic."""
    text = text_of(filename, member, data)
    try:
        project = tomllib.loads(text).get("project", {})
    except tomllib.TOMLDecodeError as error:
        raise invalid(filename, f"{member} is not valid TOML ({error})") from None
    if "version" not in project and "version" in project.get("dynamic", []):
        return None
    current = project.get("version")
    if not isinstance(current, str) or version_of(current) != Version(old):
        raise invalid(filename, f"{member} says version {current!r}, but the file name says {old}")
    new_text, _ = replace_toml_string(text, PYPROJECT_KEY, new, where=f"{filename}: {member}")
    return new_text.encode("utf-8")


def rewrite_sdist(
    source: Path, target_dir: Path, source_name: DistributionName, target_name: DistributionName
) -> RewriteReport:
    """Write `target_name` into `target_dir`: the sdist `source` at the target's version, verified."""
    filename, old, new = source.name, source_name.version, target_name.version
    members, contents, mtime = _read_tar(source)
    base, new_base = _sdist_base(source_name), _sdist_base(target_name)
    outside = [m.name for m in members if m.name != base and not m.name.startswith(f"{base}/")]
    if outside:
        raise invalid(filename, f"members outside {base}/: {', '.join(outside[:5])}")
    pkg_info = f"{base}/PKG-INFO"
    if pkg_info not in contents:
        raise invalid(filename, f"no {pkg_info}")
    project = source_name.project
    replaced = {pkg_info: set_metadata_version(filename, pkg_info, contents[pkg_info], project, old, new)}
    for name, data in contents.items():
        if posixpath.basename(name) == "PKG-INFO" and posixpath.dirname(name).endswith(".egg-info"):
            replaced[name] = set_metadata_version(filename, name, data, project, old, new)
    pyproject = f"{base}/pyproject.toml"
    if pyproject in contents:
        edited = _pyproject_version(filename, pyproject, contents[pyproject], old, new)
        if edited is not None:
            replaced[pyproject] = edited

    def rename(path: str) -> str:
        return new_base + path[len(base) :] if path == base or path.startswith(f"{base}/") else path

    def write(temp: Path) -> None:
        with (
            temp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as packed,
            tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as archive,
        ):
            for member in members:
                info = copy.copy(member)
                info.name = rename(member.name)
                if member.islnk():
                    info.linkname = rename(member.linkname)
                # A pax path or size record would override the new name and size.
                info.pax_headers = {
                    k: v for k, v in member.pax_headers.items() if k not in ("path", "linkpath", "size")
                }
                data = replaced.get(member.name, contents.get(member.name))
                if data is None:
                    archive.addfile(info)
                else:
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))

    target = target_dir / target_name.filename
    atomic_replace(target, write)
    try:
        _check_sdist(target, members, contents, rename, replaced)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    kept = [m.name for m in members if m.name not in replaced]
    return RewriteReport(
        filename,
        target.name,
        FileKind.SDIST,
        tuple(rename(m.name) for m in members if m.name in replaced),
        sum(1 for name in kept if rename(name) != name),
        len(kept),
    )


def _check_sdist(
    target: Path,
    source: list[tarfile.TarInfo],
    contents: dict[str, bytes],
    rename: Callable[[str], str],
    replaced: dict[str, bytes],
) -> None:
    """Read the written sdist back: same members, types and modes, unchanged bytes where nothing was rewritten."""
    written, written_contents, _ = _read_tar(target)
    if [m.name for m in written] != [rename(m.name) for m in source]:
        raise Corrupt(f"{target.name}: the written archive's members differ from the source's", hint="retry")
    for before, after in zip(source, written, strict=False):
        if (after.type, after.mode) != (before.type, before.mode):
            raise Corrupt(f"{target.name}: {after.name} changed type or mode", hint="retry")
        wanted = replaced.get(before.name, contents.get(before.name))
        if written_contents.get(after.name) != wanted:
            raise Corrupt(f"{target.name}: {after.name} differs from what was written", hint="retry")
