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
import csv
import hashlib
import io
import posixpath
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

from pipelines.core.errors import Corrupt
from pipelines.edges.files import atomic_replace
from pipelines.wheels.core_metadata import (
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_RATIO,
    MAX_TOTAL_BYTES,
    RATIO_FLOOR,
    RewriteReport,
    invalid,
    set_metadata_version,
    text_of,
    version_of,
)
from pipelines.wheels.sdist import rewrite_sdist
from pipelines.wheels.select import DistributionName, FileKind

RECORD_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
# The binary distribution format forbids md5 and sha1 in RECORD.
_WEAK_HASHES = {"md5", "sha1"}


def record_hash(data: bytes, algorithm: str = "sha256") -> str:
    """A RECORD hash: `algorithm=` and the urlsafe base64 digest without padding."""
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}={base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii')}"


@dataclass(frozen=True)
class _Member:
    info: zipfile.ZipInfo
    data: bytes


def _check_sizes(filename: str, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse an archive by its members' declared sizes, before anything is inflated."""
    if len(infos) > MAX_MEMBERS:
        raise invalid(filename, f"more than {MAX_MEMBERS} members")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise invalid(filename, f"{info.filename} is encrypted")
        if info.file_size > MAX_MEMBER_BYTES:
            raise invalid(filename, f"{info.filename} is larger than {MAX_MEMBER_BYTES >> 20} MiB inflated")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise invalid(filename, f"{info.filename} inflates beyond a compression ratio of {MAX_RATIO}")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise invalid(filename, f"its members are larger than {MAX_TOTAL_BYTES >> 20} MiB inflated")


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, streamed, never more than its declared size."""
    chunks, size = [], 0
    with archive.open(info) as handle:
        while chunk := handle.read(1 << 20):
            size += len(chunk)
            if size > info.file_size:
                raise zipfile.BadZipFile(f"{info.filename} inflates beyond its declared size")
            chunks.append(chunk)
    return b"".join(chunks)


def _read_zip(path: Path) -> list[_Member]:
    try:
        with zipfile.ZipFile(path) as archive:
            _check_sizes(path.name, archive.infolist())
            members = [_Member(info, _read_member(archive, info)) for info in archive.infolist()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, zlib.error) as error:
        raise invalid(path.name, f"not a readable zip archive ({error})") from None
    except UnicodeDecodeError:  # a member name flagged UTF-8 that is not
        raise invalid(path.name, "not a readable zip archive (a member name is not valid UTF-8)") from None
    except RuntimeError as error:  # zipfile's word for an encrypted member
        raise invalid(path.name, f"not a readable zip archive ({error})") from None
    names = [m.info.filename for m in members]
    if len(set(names)) != len(names):
        raise invalid(path.name, "the archive holds the same member name twice")
    unsafe = [n for n in names if n.startswith("/") or ".." in n.split("/") or "\\" in n]
    if unsafe:
        raise invalid(path.name, f"unsafe member paths: {', '.join(unsafe)}")
    return members


def _top_folder(filename: str, names: list[str], suffix: str, project: str, version: str) -> str | None:
    """The single `{name}-{version}{suffix}` folder of the archive, checked against project and version."""
    folders = sorted({n.split("/", 1)[0] for n in names if "/" in n and n.split("/", 1)[0].endswith(suffix)})
    if not folders:
        return None
    if len(folders) != 1:
        raise invalid(filename, f"more than one {suffix} folder: {', '.join(folders)}")
    stem = folders[0][: -len(suffix)]
    name, _, folder_version = stem.rpartition("-")
    if canonicalize_name(name) != canonicalize_name(project) or version_of(folder_version) != Version(version):
        raise invalid(filename, f"folder {folders[0]} does not match the file name's {project} {version}")
    return folders[0]


def _parse_record(filename: str, text: str) -> list[list[str]]:
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    bad = [",".join(row) for row in rows if len(row) != 3]
    if bad:
        raise invalid(filename, f"RECORD rows without 3 fields: {', '.join(bad[:3])}")
    return rows


def verify_record(filename: str, members: list[_Member], record_path: str) -> list[list[str]]:
    """Check every member against RECORD (hash and size) and RECORD against the members; returns its rows."""
    by_name = {m.info.filename: m for m in members if not m.info.is_dir()}
    if record_path not in by_name:
        raise invalid(filename, f"no {record_path}")
    rows = _parse_record(filename, text_of(filename, record_path, by_name[record_path].data))
    listed = {row[0] for row in rows}
    exempt = {record_path, *(posixpath.join(posixpath.dirname(record_path), s) for s in RECORD_SIGNATURES)}
    problems = [f"{name} is not in RECORD" for name in by_name if name not in listed and name not in exempt]
    for path, digest, size in rows:
        member = by_name.get(path)
        if member is None:
            problems.append(f"{path} is in RECORD but not in the archive")
        elif path != record_path:
            algorithm, _, _ = digest.partition("=")
            if algorithm not in hashlib.algorithms_guaranteed or algorithm in _WEAK_HASHES or "shake" in algorithm:
                problems.append(f"{path} has no sha256 (or stronger) hash in RECORD")
            elif record_hash(member.data, algorithm) != digest:
                problems.append(f"{path} does not match its RECORD hash")
            elif size and size != str(len(member.data)):
                problems.append(f"{path} is {len(member.data)} bytes, RECORD says {size}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise invalid(filename, f"RECORD does not match the contents: {shown}")
    return rows


def _recordtext_of(rows: list[list[str]], template: str) -> bytes:
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
        raise invalid(filename, "no .dist-info folder")
    signed = [s for s in RECORD_SIGNATURES if f"{dist_info}/{s}" in names]
    if signed:
        raise invalid(filename, f"signed RECORD ({', '.join(signed)}): a signature cannot survive a new version")
    _check_wheel_tags(source_name, members, f"{dist_info}/WHEEL")
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
        raise invalid(filename, f"no {metadata_path}")
    metadata = set_metadata_version(filename, metadata_path, by_name[metadata_path].data, project, old, new)

    new_rows = []
    for path, digest, size in rows:
        if path == metadata_path:
            new_rows.append([rename(path), record_hash(metadata), str(len(metadata))])
        else:
            new_rows.append([rename(path), digest, size])
    record = _recordtext_of(new_rows, text_of(filename, record_path, by_name[record_path].data))
    replaced = {metadata_path: metadata, record_path: record}

    def write(temp: Path) -> None:
        with zipfile.ZipFile(temp, "w") as archive:
            for member in members:
                info = _zip_info(member.info, rename(member.info.filename))
                archive.writestr(info, replaced.get(member.info.filename, member.data))

    target = target_dir / target_name.filename
    atomic_replace(target, write)
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


def _check_wheel_tags(name: DistributionName, members: list[_Member], wheel_path: str) -> None:
    """The WHEEL file's `Tag` lines must be exactly the tags the file name expands to."""
    found = [m for m in members if m.info.filename == wheel_path]
    if not found:
        raise invalid(name.filename, f"no {wheel_path}")
    text = text_of(name.filename, wheel_path, found[0].data)
    tags = {line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("Tag:")}
    expected = {
        f"{python}-{abi}-{platform}"
        for python in str(name.python_tag).split(".")
        for abi in str(name.abi_tag).split(".")
        for platform in str(name.platform_tag).split(".")
    }
    if tags != expected:
        raise invalid(
            name.filename,
            f"{wheel_path} says Tag {', '.join(sorted(tags)) or '(none)'}, the file name {', '.join(sorted(expected))}",
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
        raise Corrupt(f"{target.name}: the written archive's members differ from the source's", hint="retry")
    for before, after in zip(source, written, strict=False):
        wanted = replaced.get(before.info.filename, before.data)
        if after.data != wanted or after.info.external_attr != before.info.external_attr:
            raise Corrupt(f"{target.name}: {after.info.filename} differs from what was written", hint="retry")
    dist_info = _top_folder(target.name, expected, ".dist-info", project, version)
    verify_record(target.name, written, f"{dist_info}/RECORD")


def rewrite(
    source: Path, target_dir: Path, source_name: DistributionName, target_name: DistributionName
) -> RewriteReport:
    """Rewrite a wheel or an sdist, as its name says."""
    if source_name.kind is FileKind.WHEEL:
        return rewrite_wheel(source, target_dir, source_name, target_name)
    return rewrite_sdist(source, target_dir, source_name, target_name)
