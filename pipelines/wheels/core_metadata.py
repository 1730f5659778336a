"""What re-versioning changes inside any distribution: the `Version:` header of its core metadata
(METADATA, PKG-INFO), and the report of a rewrite. Shared by the wheel and the sdist rewriters."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipelines.core.errors import Corrupt
from pipelines.wheels.select import FileKind


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


def invalid(filename: str, problem: str) -> Corrupt:
    return Corrupt(
        f"{filename}: {problem}",
        hint="promote only the files the RC build produced, unmodified (download them again with find-rc)",
    )


# Archive limits, checked against each member's declared size before anything is inflated (a small
# archive can hold gigabytes of zeros): a member, all members together, and how much a member may inflate.
MAX_MEMBER_BYTES = 512 << 20
MAX_TOTAL_BYTES = 1 << 30
MAX_RATIO = 100  # uncompressed over compressed, for members above RATIO_FLOOR
RATIO_FLOOR = 1 << 20
MAX_MEMBERS = 100_000


def text_of(filename: str, member: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(filename, f"{member} is not UTF-8 text") from None


def version_of(text: str) -> Version | None:
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
    fields: list[tuple[int, str, str]] = []
    for i, line in enumerate(lines[:header_end]):
        if b":" in line and not line[:1].isspace():
            key, _, value = line.decode("utf-8", "replace").partition(":")
            fields.append((i, key, value))
    names = [value.strip() for _, key, value in fields if key.lower() == "name"]
    versions = [(i, value.strip()) for i, key, value in fields if key.lower() == "version"]
    if len(names) != 1 or canonicalize_name(names[0]) != canonicalize_name(project):
        raise invalid(filename, f"{member} names {', '.join(names) or 'no project'}, not {project}")
    if len(versions) != 1 or version_of(versions[0][1]) != Version(old):
        found = ", ".join(v for _, v in versions) or "no version"
        raise invalid(filename, f"{member} says {found}, but the file name says {old}")
    index = versions[0][0]
    line = lines[index]
    ending = line[len(line.rstrip(b"\r\n")) :]
    lines[index] = f"Version: {new}".encode() + ending
    return b"".join(lines)
