"""The agreement rule of version files: every file of a project says the same version, and equals the tag's.

`check_versions` is a pure function of what each file says (`VersionReading`, read by
`pipelines.edges.project_files`); its `VersionCheck` lists every disagreement with the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipelines.core.errors import RuleRefused
from pipelines.core.versions import ProjectVersion


@dataclass(frozen=True)
class VersionReading:
    """What one version file says: where, under which key, the raw text, and its parsed value."""

    path: str
    key: str
    raw: str
    version: ProjectVersion | None
    problem: str | None = None


@dataclass(frozen=True)
class VersionCheck:
    """The outcome of comparing a project's version files with each other and with a tag."""

    project: str
    readings: tuple[VersionReading, ...]
    expected: ProjectVersion | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def version(self) -> ProjectVersion | None:
        """The version of record: the first file's, when it parsed."""
        return self.readings[0].version if self.readings else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "ok": self.ok,
            "version": str(self.version) if self.version else None,
            "expected": str(self.expected) if self.expected else None,
            "files": [{"path": r.path, "key": r.key, "value": r.raw, "problem": r.problem} for r in self.readings],
            "problems": list(self.problems),
        }

    def raise_for_problems(self) -> None:
        if self.problems:
            raise RuleRefused(
                f"{self.project}: version files do not agree"
                + (f" with {self.expected}" if self.expected else "")
                + ":\n  - "
                + "\n  - ".join(self.problems),
                hint=f"set every file to the same version: python -m pipelines versions bump {self.project} VERSION",
            )


def check_versions(
    project: str, readings: Iterable[VersionReading], expected: ProjectVersion | None = None
) -> VersionCheck:
    """Check that every reading parsed, that all agree, and that they equal `expected` when given."""
    readings = tuple(readings)
    problems = [f"{r.path} ({r.key}): {r.problem}" for r in readings if r.problem]
    parsed = [r for r in readings if r.version is not None]
    if parsed:
        record = parsed[0]
        for other in parsed[1:]:
            if other.version != record.version:
                problems.append(
                    f"{other.path} ({other.key}) says {other.raw}, but {record.path} ({record.key}) says {record.raw}"
                )
        if expected is not None and record.version != expected:
            problems.append(f"the tag says {expected}, but {record.path} ({record.key}) says {record.raw}")
    return VersionCheck(project, readings, expected, tuple(problems))
