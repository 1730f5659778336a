"""Release tags: `{project}-v{MAJOR}.{MINOR}.{PATCH}[-rc{N}]`, parsed strictly, formatted, and numbered.

An RC tag (`percolate-v0.2.0-rc1`) starts a build; a tag without `-rc` starts a
release. Only catalog projects are accepted, the longest project name wins
(`percolate-reading-v…` is never project `percolate`), numbers carry no leading
zeros and N is at least 1. `refs/tags/` in front is accepted and dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

from pipelines.core.catalog import get_project, project_names
from pipelines.core.errors import InputError, RuleRefused
from pipelines.core.values import Value
from pipelines.core.versions import ProjectVersion

REFS_PREFIX = "refs/tags/"
EXPECTED_FORM = "{project}-vMAJOR.MINOR.PATCH[-rcN], e.g. percolate-v1.2.0 or percolate-v1.2.0-rc1"

_NUMBER = re.compile(r"0|[1-9][0-9]*")
_MAX_DIGITS = 18  # refused before int() (which refuses beyond 4,300 digits with a ValueError)
_VERSION = re.compile(r"([0-9]+)\.([0-9]+)\.([0-9]+)(?:-(.*))?", re.DOTALL)
_RC = re.compile(r"rc([0-9]+)")


class Stage(str, Enum):
    BUILD = "build"
    RELEASE = "release"


class ReleaseTag(Value):
    """A parsed tag: project, version and, for a release candidate, its rc number."""

    project: str
    version: ProjectVersion  # always the final X.Y.Z; the rc number lives in `rc`
    rc: int | None = None

    @property
    def stage(self) -> Stage:
        return Stage.BUILD if self.rc is not None else Stage.RELEASE

    @property
    def package_version(self) -> ProjectVersion:
        """The version Python packages carry for this tag: `0.2.0rc1` for an RC, else `0.2.0`."""
        return self.version.with_rc(self.rc) if self.rc is not None else self.version

    @property
    def name(self) -> str:
        return f"{self.project}-v{self.version.release}" + (f"-rc{self.rc}" if self.rc is not None else "")

    def __str__(self) -> str:
        return self.name


def _malformed(tag: str, problem: str) -> InputError:
    shown = tag if len(tag) <= 100 else f"{tag[:100]}…"
    return InputError(f"malformed tag {shown!r}: {problem}", hint=f"expected {EXPECTED_FORM}")


def _number(tag: str, text: str, what: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise _malformed(tag, f"{what} {text!r} has a leading zero")
    if len(text) > _MAX_DIGITS:
        raise _malformed(tag, f"{what} has {len(text)} digits, more than {_MAX_DIGITS}")
    return int(text)


def parse_tag(text: str) -> ReleaseTag:
    """Parse a tag name (optionally `refs/tags/…`) or raise InputError naming the problem."""
    tag = text.removeprefix(REFS_PREFIX)
    if not tag or tag != tag.strip():
        raise _malformed(text, "empty or surrounded by white space")
    candidates = [name for name in project_names() if tag.startswith(f"{name}-v")]
    if not candidates:
        prefix = tag.split("-v", 1)[0] if "-v" in tag else tag
        raise InputError(
            f"malformed tag {text!r}: unknown project {prefix!r}",
            hint=f"known projects: {', '.join(project_names())}; expected {EXPECTED_FORM}",
        )
    project = max(candidates, key=len)
    rest = tag[len(project) + 2 :]
    match = _VERSION.fullmatch(rest)
    if not match:
        raise _malformed(text, f"version {rest!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch, suffix = match.groups()
    version = ProjectVersion(
        _number(text, major, "MAJOR"), _number(text, minor, "MINOR"), _number(text, patch, "PATCH")
    )
    if suffix is None:
        return ReleaseTag(project, version)
    rc_match = _RC.fullmatch(suffix)
    if not rc_match:
        raise _malformed(text, f"suffix {'-' + suffix!r} is not allowed; the only pre-release is -rcN")
    rc = _number(text, rc_match.group(1), "rc number")
    if rc < 1:
        raise _malformed(text, "rc numbers start at 1 (-rc0 is not allowed)")
    return ReleaseTag(project, version, rc)


def format_tag(project: str, version: ProjectVersion, rc: int | None = None) -> str:
    """The tag name for a project version; the inverse of `parse_tag`."""
    get_project(project)
    if version.is_prerelease:
        raise InputError(
            f"tag versions are final versions, not {version}", hint=f"use {version.release} with an rc number"
        )
    if rc is not None and rc < 1:
        raise InputError(f"rc number {rc} is below 1", hint="rc numbers start at 1")
    return ReleaseTag(project, version, rc).name


def parse_tags(names: Iterable[str]) -> list[ReleaseTag]:
    """The tags among `names` that follow the grammar; others (foreign tags) are skipped."""
    parsed = []
    for name in names:
        try:
            parsed.append(parse_tag(name))
        except InputError:
            continue
    return parsed


def next_rc(project: str, version: ProjectVersion, existing: Iterable[str]) -> ReleaseTag:
    """The next rc tag of `version`: one above every rc that exists, so no number is ever reused.

    Refuses when the release tag of that version exists already: its RCs are closed.
    """
    same_version = [t for t in parse_tags(existing) if t.project == project and t.version == version]
    if any(t.rc is None for t in same_version):
        release = format_tag(project, version)
        raise RuleRefused(
            f"{release} exists already: {version} is released and takes no more release candidates",
            hint=f"bump the version first: python -m pipelines versions bump {project} NEW_VERSION",
        )
    highest = max((t.rc for t in same_version if t.rc is not None), default=0)
    return ReleaseTag(project, version, highest + 1)
