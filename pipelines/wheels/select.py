"""Wheel and sdist file names, the choice of the RC to promote, and the re-version plan.

A wheel is named `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`
(the binary distribution format spec) and an sdist `{name}-{version}.tar.gz` (the
source distribution format spec). Names are parsed keeping every part as spelt, so
a promoted file differs from its RC only in the version. The rules here choose the
newest `X.Y.ZrcN` whose files cover every wheel target of the catalog plus the
sdist, and refuse a promotion input that is anything other than one such set.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pipelines.core.catalog import Project
from pipelines.core.errors import InputError, NotFound, RuleRefused
from pipelines.core.versions import ProjectVersion

WHEEL_SUFFIX = ".whl"
SDIST_SUFFIX = ".tar.gz"
WHEEL_FORM = "{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl"
SDIST_FORM = "{name}-{version}.tar.gz"

# A wheel's distribution part is escaped: no dashes. Earlier spec versions allowed dots and capitals.
_DISTRIBUTION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?")
# An sdist from an older tool keeps the project's dashes in its name; the version never has one.
_SDIST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_BUILD = re.compile(r"[0-9][A-Za-z0-9_.]*")
_TAG_SET = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")


class FileKind(str, Enum):
    WHEEL = "wheel"
    SDIST = "sdist"


@dataclass(frozen=True)
class DistributionName:
    """A wheel or sdist file name, every part as spelt in the name."""

    kind: FileKind
    distribution: str
    version: str
    build: str | None = None
    python_tag: str | None = None
    abi_tag: str | None = None
    platform_tag: str | None = None

    @property
    def filename(self) -> str:
        if self.kind is FileKind.SDIST:
            return f"{self.distribution}-{self.version}{SDIST_SUFFIX}"
        build = f"-{self.build}" if self.build else ""
        return (
            f"{self.distribution}-{self.version}{build}"
            f"-{self.python_tag}-{self.abi_tag}-{self.platform_tag}{WHEEL_SUFFIX}"
        )

    @property
    def project(self) -> str:
        """The normalised project name (`percolate-rocks` for `percolate_rocks`)."""
        return canonicalize_name(self.distribution)

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platform tags of a wheel (a compressed tag set names several), none for an sdist."""
        return tuple(self.platform_tag.split(".")) if self.platform_tag else ()

    def with_version(self, version: str) -> DistributionName:
        return replace(self, version=version)

    def __str__(self) -> str:
        return self.filename


def _version_part(filename: str, text: str, form: str) -> str:
    try:
        Version(text)
    except InvalidVersion:
        raise InputError(f"{filename!r}: {text!r} is not a PEP 440 version", hint=f"expected {form}") from None
    return text


def parse_wheel_filename(filename: str) -> DistributionName:
    """Parse a wheel file name per the binary distribution format spec, or raise InputError saying why not."""
    if not filename.endswith(WHEEL_SUFFIX):
        raise InputError(f"{filename!r} is not a wheel (no {WHEEL_SUFFIX})", hint=f"expected {WHEEL_FORM}")
    parts = filename[: -len(WHEEL_SUFFIX)].split("-")
    if len(parts) not in (5, 6):
        raise InputError(
            f"{filename!r} has {len(parts)} dash-separated parts, not 5 or 6", hint=f"expected {WHEEL_FORM}"
        )
    distribution, version, *middle, python_tag, abi_tag, platform_tag = parts
    build = middle[0] if middle else None
    if not _DISTRIBUTION.fullmatch(distribution):
        raise InputError(f"{filename!r}: {distribution!r} is not a distribution name", hint=f"expected {WHEEL_FORM}")
    _version_part(filename, version, WHEEL_FORM)
    if build is not None and not _BUILD.fullmatch(build):
        raise InputError(
            f"{filename!r}: build tag {build!r} does not start with a digit", hint=f"expected {WHEEL_FORM}"
        )
    for what, tag in (("python", python_tag), ("abi", abi_tag), ("platform", platform_tag)):
        if not _TAG_SET.fullmatch(tag):
            raise InputError(f"{filename!r}: {what} tag {tag!r} is malformed", hint=f"expected {WHEEL_FORM}")
    return DistributionName(FileKind.WHEEL, distribution, version, build, python_tag, abi_tag, platform_tag)


def parse_sdist_filename(filename: str) -> DistributionName:
    """Parse an sdist file name `{name}-{version}.tar.gz`, or raise InputError saying why not."""
    if not filename.endswith(SDIST_SUFFIX):
        raise InputError(f"{filename!r} is not an sdist (no {SDIST_SUFFIX})", hint=f"expected {SDIST_FORM}")
    name, dash, version = filename[: -len(SDIST_SUFFIX)].rpartition("-")
    if not dash or not _SDIST_NAME.fullmatch(name):
        raise InputError(f"{filename!r} has no {{name}}-{{version}} stem", hint=f"expected {SDIST_FORM}")
    return DistributionName(FileKind.SDIST, name, _version_part(filename, version, SDIST_FORM))


def parse_filename(filename: str) -> DistributionName:
    """A wheel or sdist file name; anything else is an InputError."""
    if filename.endswith(WHEEL_SUFFIX):
        return parse_wheel_filename(filename)
    if filename.endswith(SDIST_SUFFIX):
        return parse_sdist_filename(filename)
    raise InputError(f"{filename!r} is neither a wheel nor an sdist", hint=f"expected {WHEEL_FORM} or {SDIST_FORM}")


def rc_number(version: Version, release: ProjectVersion) -> int | None:
    """N when `version` is exactly `{release}rcN`, else None."""
    if version.epoch or version.post is not None or version.dev is not None or version.local:
        return None
    if version.release != (release.major, release.minor, release.patch) or version.pre is None:
        return None
    kind, number = version.pre
    return number if kind == "rc" else None


@dataclass(frozen=True)
class Candidate:
    """The files of one `X.Y.ZrcN` and what a complete set would still need."""

    rc: int
    files: tuple[DistributionName, ...]
    missing: tuple[str, ...]  # wheel target names, and "sdist"

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def version(self) -> str:
        return str(self.files[0].parsed_version)


def missing_parts(project: Project, files: Iterable[DistributionName]) -> tuple[str, ...]:
    """The catalog's wheel targets no file covers, plus "sdist" when there is none."""
    files = tuple(files)
    platforms = [tag for name in files for tag in name.platforms]
    missing = [
        target.name
        for target in project.wheel_targets
        if not any(fnmatch.fnmatchcase(tag, target.platform_tag_glob) for tag in platforms)
    ]
    if not any(name.kind is FileKind.SDIST for name in files):
        missing.append("sdist")
    return tuple(missing)


@dataclass(frozen=True)
class RcSelection:
    """The newest complete RC of a release, if any, and every RC seen on the way."""

    project: str
    release: ProjectVersion
    candidates: tuple[Candidate, ...]  # newest first
    ignored: tuple[str, ...]  # file names that are not this release's RCs

    @property
    def chosen(self) -> Candidate | None:
        return next((c for c in self.candidates if c.complete), None)

    def require(self) -> Candidate:
        """The chosen RC, or CheckFailed listing what each RC lacks."""
        chosen = self.chosen
        if chosen is not None:
            return chosen
        if not self.candidates:
            raise NotFound(
                f"no {self.release}rcN files of {self.project} found",
                hint=f"publish an RC first: tag {self.project}-v{self.release}-rc1 and let the build finish",
            )
        lacking = "; ".join(f"rc{c.rc} lacks {', '.join(c.missing)}" for c in self.candidates)
        raise RuleRefused(
            f"no complete {self.release}rcN of {self.project}: {lacking}",
            hint="re-run the failed build jobs of the newest RC, or tag a new RC",
        )


def select_rc(project: Project, release: ProjectVersion, filenames: Iterable[str]) -> RcSelection:
    """Group the project's `{release}rcN` files by N and pick the newest complete group.

    Files that do not parse, belong to another project or another version are
    returned as ignored: an index page or a download folder holds more than one RC.
    """
    if release.is_prerelease:
        raise InputError(f"{release} is a pre-release", hint=f"give the final version, e.g. {release.release}")
    wanted = canonicalize_name(project.distribution or project.name)
    groups: dict[int, list[DistributionName]] = {}
    ignored: list[str] = []
    for filename in filenames:
        try:
            name = parse_filename(filename)
        except InputError:
            ignored.append(filename)
            continue
        number = rc_number(name.parsed_version, release)
        if name.project != wanted or number is None:
            ignored.append(filename)
            continue
        groups.setdefault(number, []).append(name)
    candidates = tuple(
        Candidate(number, tuple(sorted(files, key=lambda n: n.filename)), missing_parts(project, files))
        for number, files in sorted(groups.items(), reverse=True)
    )
    return RcSelection(project.name, release, candidates, tuple(sorted(ignored)))


@dataclass(frozen=True)
class Rename:
    """One file of a promotion: the RC file and the name it gets at the final version."""

    source: DistributionName
    target: DistributionName

    @property
    def kind(self) -> FileKind:
        return self.source.kind


@dataclass(frozen=True)
class PromotionPlan:
    project: str
    rc: int
    from_version: str
    to_version: str
    renames: tuple[Rename, ...]


def plan_promotion(project: Project, release: ProjectVersion, filenames: Iterable[str]) -> PromotionPlan:
    """The renames that take one complete `{release}rcN` set to `{release}`.

    Refuses (InputError) a file that is not a wheel or sdist, a file of another
    project, a version other than an rc of the release, more than one rc number, and
    (CheckFailed) a set that lacks a wheel target or the sdist.
    """
    if release.is_prerelease:
        raise InputError(f"--version {release} is a pre-release", hint=f"give the final version {release.release}")
    wanted = canonicalize_name(project.distribution or project.name)
    names = [parse_filename(filename) for filename in sorted(filenames)]
    if not names:
        raise InputError("no files to promote", hint="pass the folder find-rc wrote (--from DIR)")
    strangers = [n.filename for n in names if n.project != wanted]
    if strangers:
        raise InputError(
            f"files of another project than {wanted}: {', '.join(strangers)}",
            hint=f"keep only {project.name}'s files in the folder",
        )
    numbers = {n.filename: rc_number(n.parsed_version, release) for n in names}
    others = [filename for filename, number in numbers.items() if number is None]
    if others:
        raise InputError(
            f"not a release candidate of {release}: {', '.join(others)}",
            hint=f"promote only {release}rcN files (python -m pipelines wheels find-rc {project.name} {release})",
        )
    distinct = sorted({number for number in numbers.values() if number is not None})
    if len(distinct) != 1:
        raise InputError(
            f"files of more than one release candidate: {', '.join(f'rc{n}' for n in distinct)}",
            hint="promote exactly one rc: keep only the files find-rc chose",
        )
    missing = missing_parts(project, names)
    if missing:
        raise RuleRefused(
            f"rc{distinct[0]} of {project.name} {release} lacks {', '.join(missing)}",
            hint="promote a complete set: python -m pipelines wheels find-rc chooses the newest one",
        )
    # The target keeps the source's spelling; the version is the final one, normalised.
    renames = tuple(Rename(name, name.with_version(release.pep440())) for name in names)
    counts = Counter(r.target.filename for r in renames)
    duplicates = [filename for filename, count in counts.items() if count > 1]
    if duplicates:
        raise InputError(
            f"two files would get the same name: {', '.join(sorted(duplicates))}",
            hint="keep one file per name in the folder",
        )
    return PromotionPlan(project.name, distinct[0], str(names[0].parsed_version), release.pep440(), renames)
