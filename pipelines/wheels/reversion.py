"""Rewriting a wheel or an sdist at another version, every other byte of its payload kept and verified.

A wheel carries its version in its file name, its `.dist-info` (and `.data`) folder
name, `METADATA` and the `RECORD` of hashes. Re-versioning it renames the folders,
rewrites the `Version:` header of METADATA and recomputes the RECORD rows that
changed; every other member, compiled extensions included, is copied byte for byte.
An sdist carries it in its top folder's name, `PKG-INFO` (and an `.egg-info/PKG-INFO`
when setuptools made it) and `pyproject.toml`. The input's RECORD is checked against
its contents first; the output is read back and compared member by member before it
is reported, so a caller can publish what this module wrote without looking again.
"""

from __future__ import annotations

import base64
import copy
import csv
import gzip
import hashlib
import io
import os
import posixpath
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipelines.core.errors import CheckFailed
from pipelines.edges.version_files import PYPROJECT_KEY, replace_toml_string
from pipelines.wheels.select import DistributionName, FileKind

RECORD_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
# The binary distribution format forbids md5 and sha1 in RECORD.
_WEAK_HASHES = {"md5", "sha1"}


def record_hash(data: bytes, algorithm: str = "sha256") -> str:
    """A RECORD hash: `algorithm=` and the urlsafe base64 digest without padding."""
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}={base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii')}"


@dataclass(frozen=True)
class RewriteReport:
    """What a rewrite did: the members whose content changed, and how many were copied unchanged."""

    source: str
    target: str
    kind: FileKind
    rewritten: tuple[str, ...]  # member names in the output
    renamed: int  # members whose path changed with the folder rename, content unchanged
    unchanged: int  # every member copied byte for byte (the renamed ones included)

    def to_dict(self) -> dict[str, object]:
        return {
            "rewritten_members": list(self.rewritten),
            "renamed_members": self.renamed,
            "unchanged_members": self.unchanged,
        }


def _invalid(filename: str, problem: str) -> CheckFailed:
    return CheckFailed(
        f"{filename}: {problem}",
        hint="promote only the files the RC build produced, unmodified (download them again with find-rc)",
    )


def _text(filename: str, member: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(filename, f"{member} is not UTF-8 text") from None


def _version_of(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def set_metadata_version(filename: str, member: str, data: bytes, project: str, old: str, new: str) -> bytes:
    """Rewrite the `Version:` header of core metadata (METADATA, PKG-INFO), checking its Name and Version.

    Only the header line changes; the body (the long description) and line endings stay.
    """
    lines = data.splitlines(keepends=True)
    header_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    fields = [
        (i, *line.decode("utf-8", "replace").split(":", 1))
        for i, line in enumerate(lines[:header_end])
        if b":" in line and not line[:1].isspace()
    ]
    names = [value.strip() for _, key, value in fields if key.lower() == "name"]
    versions = [(i, value.strip()) for i, key, value in fields if key.lower() == "version"]
    if len(names) != 1 or canonicalize_name(names[0]) != canonicalize_name(project):
        raise _invalid(filename, f"{member} names {', '.join(names) or 'no project'}, not {project}")
    if len(versions) != 1 or _version_of(versions[0][1]) != Version(old):
        found = ", ".join(v for _, v in versions) or "no version"
        raise _invalid(filename, f"{member} says {found}, but the file name says {old}")
    index = versions[0][0]
    line = lines[index]
    ending = line[len(line.rstrip(b"\r\n")) :]
    lines[index] = f"Version: {new}".encode() + ending
    return b"".join(lines)


def _atomic_target(target: Path, write: Callable[[Path], None]) -> None:
    """Write `target` through a temp file beside it, so a failure leaves nothing half-written."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temp))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class _Member:
    info: zipfile.ZipInfo
    data: bytes


def _read_zip(path: Path) -> list[_Member]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [_Member(info, archive.read(info)) for info in archive.infolist()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as error:
        raise _invalid(path.name, f"not a readable zip archive ({error})") from None
    names = [m.info.filename for m in members]
    if len(set(names)) != len(names):
        raise _invalid(path.name, "the archive holds the same member name twice")
    unsafe = [n for n in names if n.startswith("/") or ".." in n.split("/") or "\\" in n]
    if unsafe:
        raise _invalid(path.name, f"unsafe member paths: {', '.join(unsafe)}")
    return members


def _top_folder(filename: str, names: list[str], suffix: str, project: str, version: str) -> str | None:
    """The single `{name}-{version}{suffix}` folder of the archive, checked against project and version."""
    folders = sorted({n.split("/", 1)[0] for n in names if "/" in n and n.split("/", 1)[0].endswith(suffix)})
    if not folders:
        return None
    if len(folders) != 1:
        raise _invalid(filename, f"more than one {suffix} folder: {', '.join(folders)}")
    stem = folders[0][: -len(suffix)]
    name, _, folder_version = stem.rpartition("-")
    if canonicalize_name(name) != canonicalize_name(project) or _version_of(folder_version) != Version(version):
        raise _invalid(filename, f"folder {folders[0]} does not match the file name's {project} {version}")
    return folders[0]


def _parse_record(filename: str, text: str) -> list[list[str]]:
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    bad = [",".join(row) for row in rows if len(row) != 3]
    if bad:
        raise _invalid(filename, f"RECORD rows without 3 fields: {', '.join(bad[:3])}")
    return rows


def verify_record(filename: str, members: list[_Member], record_path: str) -> list[list[str]]:
    """Check every member against RECORD (hash and size) and RECORD against the members; returns its rows."""
    by_name = {m.info.filename: m for m in members if not m.info.is_dir()}
    if record_path not in by_name:
        raise _invalid(filename, f"no {record_path}")
    rows = _parse_record(filename, _text(filename, record_path, by_name[record_path].data))
    listed = {row[0] for row in rows}
    exempt = {record_path, *(posixpath.join(posixpath.dirname(record_path), s) for s in RECORD_SIGNATURES)}
    problems = [f"{name} is not in RECORD" for name in by_name if name not in listed and name not in exempt]
    for path, digest, size in rows:
        member = by_name.get(path)
        if member is None:
            problems.append(f"{path} is in RECORD but not in the archive")
        elif path != record_path:
            algorithm, _, _ = digest.partition("=")
            if algorithm not in hashlib.algorithms_guaranteed or algorithm in _WEAK_HASHES:
                problems.append(f"{path} has no sha256 (or stronger) hash in RECORD")
            elif record_hash(member.data, algorithm) != digest:
                problems.append(f"{path} does not match its RECORD hash")
            elif size and size != str(len(member.data)):
                problems.append(f"{path} is {len(member.data)} bytes, RECORD says {size}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise _invalid(filename, f"RECORD does not match the contents: {shown}")
    return rows


def _record_text(rows: list[list[str]], template: str) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n" if "\r\n" in template else "\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _renamer(prefixes: dict[str, str]) -> Callable[[str], str]:
    def rename(path: str) -> str:
        top, slash, rest = path.partition("/")
        return prefixes[top] + slash + rest if slash and top in prefixes else path

    return rename


def _zip_info(source: zipfile.ZipInfo, name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=source.date_time)
    info.compress_type = source.compress_type
    info.external_attr = source.external_attr
    info.create_system = source.create_system
    info.comment = source.comment
    return info


def rewrite_wheel(
    source: Path, target_dir: Path, source_name: DistributionName, target_name: DistributionName
) -> RewriteReport:
    """Write `target_name` into `target_dir`: the wheel `source` at the target's version, verified."""
    filename, old, new = source.name, source_name.version, target_name.version
    members = _read_zip(source)
    names = [m.info.filename for m in members]
    project = source_name.project
    dist_info = _top_folder(filename, names, ".dist-info", project, old)
    if dist_info is None:
        raise _invalid(filename, "no .dist-info folder")
    signed = [s for s in RECORD_SIGNATURES if f"{dist_info}/{s}" in names]
    if signed:
        raise _invalid(filename, f"signed RECORD ({', '.join(signed)}): a signature cannot survive a new version")
    record_path = f"{dist_info}/RECORD"
    rows = verify_record(filename, members, record_path)

    # Folder names keep the source's spelling of the project; only the version part changes.
    prefix = dist_info[: -len(".dist-info")].rpartition("-")[0]
    folders = {dist_info: f"{prefix}-{new}.dist-info"}
    data_folder = _top_folder(filename, names, ".data", project, old)
    if data_folder is not None:
        folders[data_folder] = f"{prefix}-{new}.data"
    rename = _renamer(folders)
    metadata_path = f"{dist_info}/METADATA"
    by_name = {m.info.filename: m for m in members}
    if metadata_path not in by_name:
        raise _invalid(filename, f"no {metadata_path}")
    metadata = set_metadata_version(filename, metadata_path, by_name[metadata_path].data, project, old, new)

    new_rows = []
    for path, digest, size in rows:
        if path == metadata_path:
            new_rows.append([rename(path), record_hash(metadata), str(len(metadata))])
        else:
            new_rows.append([rename(path), digest, size])
    record = _record_text(new_rows, _text(filename, record_path, by_name[record_path].data))
    replaced = {metadata_path: metadata, record_path: record}

    def write(temp: Path) -> None:
        with zipfile.ZipFile(temp, "w") as archive:
            for member in members:
                info = _zip_info(member.info, rename(member.info.filename))
                archive.writestr(info, replaced.get(member.info.filename, member.data))

    target = target_dir / target_name.filename
    _atomic_target(target, write)
    try:
        _check_wheel(target, members, rename, replaced, project, new)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    moved = sum(1 for n in names if rename(n) != n and n not in replaced)
    return RewriteReport(
        filename,
        target.name,
        FileKind.WHEEL,
        tuple(rename(n) for n in names if n in replaced),
        moved,
        len(members) - len(replaced),
    )


def _check_wheel(
    target: Path,
    source: list[_Member],
    rename: Callable[[str], str],
    replaced: dict[str, bytes],
    project: str,
    version: str,
) -> None:
    """Read the written wheel back: same members in the same order, unchanged bytes, a matching RECORD."""
    written = _read_zip(target)
    expected = [rename(m.info.filename) for m in source]
    if [m.info.filename for m in written] != expected:
        raise CheckFailed(f"{target.name}: the written archive's members differ from the source's", hint="retry")
    for before, after in zip(source, written, strict=False):
        wanted = replaced.get(before.info.filename, before.data)
        if after.data != wanted or after.info.external_attr != before.info.external_attr:
            raise CheckFailed(f"{target.name}: {after.info.filename} differs from what was written", hint="retry")
    dist_info = _top_folder(target.name, expected, ".dist-info", project, version)
    verify_record(target.name, written, f"{dist_info}/RECORD")


def _read_tar(path: Path) -> tuple[list[tarfile.TarInfo], dict[str, bytes], int]:
    """Members, the content of each regular file, and the gzip header's mtime."""
    try:
        with path.open("rb") as handle:
            header = handle.read(10)
        if header[:2] != b"\x1f\x8b":
            raise _invalid(path.name, "not a gzip file")
        mtime = int.from_bytes(header[4:8], "little")
        contents: dict[str, bytes] = {}
        with tarfile.open(path, "r:gz") as archive:
            members = archive.getmembers()
            for member in members:
                if member.isfile():
                    extracted = archive.extractfile(member)
                    assert extracted is not None  # a regular file always has content
                    contents[member.name] = extracted.read()
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as error:
        raise _invalid(path.name, f"not a readable tar.gz archive ({error})") from None
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise _invalid(path.name, "the archive holds the same member name twice")
    return members, contents, mtime


def _sdist_base(name: DistributionName) -> str:
    return name.filename[: -len(".tar.gz")]


def _pyproject_version(filename: str, member: str, data: bytes, old: str, new: str) -> bytes | None:
    """The pyproject.toml with [project].version set to `new`; None when the version is dynamic."""
    text = _text(filename, member, data)
    try:
        project = tomllib.loads(text).get("project", {})
    except tomllib.TOMLDecodeError as error:
        raise _invalid(filename, f"{member} is not valid TOML ({error})") from None
    if "version" not in project and "version" in project.get("dynamic", []):
        return None
    current = project.get("version")
    if not isinstance(current, str) or _version_of(current) != Version(old):
        raise _invalid(filename, f"{member} says version {current!r}, but the file name says {old}")
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
        raise _invalid(filename, f"members outside {base}/: {', '.join(outside[:5])}")
    pkg_info = f"{base}/PKG-INFO"
    if pkg_info not in contents:
        raise _invalid(filename, f"no {pkg_info}")
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
        with temp.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime) as packed:
            with tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as archive:
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
    _atomic_target(target, write)
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
        raise CheckFailed(f"{target.name}: the written archive's members differ from the source's", hint="retry")
    for before, after in zip(source, written, strict=False):
        if (after.type, after.mode) != (before.type, before.mode):
            raise CheckFailed(f"{target.name}: {after.name} changed type or mode", hint="retry")
        wanted = replaced.get(before.name, contents.get(before.name))
        if written_contents.get(after.name) != wanted:
            raise CheckFailed(f"{target.name}: {after.name} differs from what was written", hint="retry")


def rewrite(
    source: Path, target_dir: Path, source_name: DistributionName, target_name: DistributionName
) -> RewriteReport:
    """Rewrite a wheel or an sdist, as its name says."""
    if source_name.kind is FileKind.WHEEL:
        return rewrite_wheel(source, target_dir, source_name, target_name)
    return rewrite_sdist(source, target_dir, source_name, target_name)
