"""CalVer build tags of RC images: `YYYY.MM.DD.HHMM-build.N-v{VERSION}-{SHA7}-{ARCH}`.

Every RC image is pushed once per platform under such a tag (UTC time, N the Actions
run number). Tags order by (time, build number) as values, never as text, so
`build.10` comes after `build.9`. Tags that do not parse are reported, never fatal:
a registry holds whatever people pushed to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from pipelines.core.errors import InputError
from pipelines.core.values import Value
from pipelines.core.versions import ProjectVersion, parse_release

MAX_TAG_LENGTH = 128  # the OCI distribution spec's limit for a tag
EXPECTED_FORM = (
    "YYYY.MM.DD.HHMM-build.N-vMAJOR.MINOR.PATCH-SHA7-ARCH, e.g. 2025.10.25.1430-build.123-v0.1.0-abc1234-amd64"
)

_STEM_PATTERN = (
    r"([0-9]{4})\.([0-9]{2})\.([0-9]{2})\.([0-9]{2})([0-9]{2})"
    r"-build\.([1-9][0-9]*)"
    r"-v((?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))"
    r"-([0-9a-f]{7})"
)
_TAG = re.compile(_STEM_PATTERN + r"-([a-z0-9]+)")
# Compiled on first use (re keeps them), not at import: promote, which parses tags, never makes one or reads a stem.
_SHA = r"[0-9a-fA-F]{7,64}"
_ARCH = r"[a-z0-9]+"


class BuildTag(Value):
    """One platform image of one RC build, as its CalVer tag says."""

    built_at: datetime  # UTC, whole minutes
    build: int
    version: ProjectVersion
    sha: str  # the commit's first 7 hex digits, lower case
    arch: str

    @property
    def order_key(self) -> tuple[datetime, int]:
        return (self.built_at, self.build)

    @property
    def build_key(self) -> tuple[datetime, int, str]:
        """What identifies a build across its platforms: time, build number, commit."""
        return (self.built_at, self.build, self.sha)

    @property
    def tag(self) -> str:
        return f"{stamp(self.built_at)}-build.{self.build}-v{self.version.release}-{self.sha}-{self.arch}"

    def __str__(self) -> str:
        return self.tag


def make_build_tag(*, version: str, sha: str, arch: str, build: int, at: datetime) -> BuildTag:
    """Validate the parts of a build tag and put them together; the time is taken to UTC minutes."""
    if not re.fullmatch(_SHA, sha):
        raise InputError(f"commit {sha!r} is not a hex SHA of at least 7 digits", hint="pass the full commit SHA")
    if not re.fullmatch(_ARCH, arch):
        raise InputError(f"architecture {arch!r} is not lower-case letters and digits", hint="e.g. amd64 or arm64")
    if build < 1:
        raise InputError(f"build number {build} is below 1", hint="pass the Actions run number (GITHUB_RUN_NUMBER)")
    if at.tzinfo is None:
        raise InputError(f"time {at.isoformat()} has no time zone", hint="give UTC, e.g. 2025-10-25T14:30:00Z")
    built_at = at.astimezone(UTC).replace(second=0, microsecond=0)
    tag = BuildTag(built_at, build, parse_release(version), sha[:7].lower(), arch)
    if len(tag.tag) > MAX_TAG_LENGTH:
        raise InputError(f"tag {tag.tag!r} is longer than {MAX_TAG_LENGTH} characters", hint="shorten the version")
    return tag


def parse_build_tag(text: str) -> BuildTag:
    """Parse a CalVer build tag (the part after `image:`), or raise InputError saying why not."""
    match = _TAG.fullmatch(text)
    if not match:
        raise InputError(f"{text!r} is not a CalVer build tag", hint=f"expected {EXPECTED_FORM}")
    year, month, day, hour, minute, build, version, sha, arch = match.groups()
    try:
        built_at = datetime(int(year), int(month), int(day), int(hour), int(minute), tzinfo=UTC)
    except ValueError as error:
        raise InputError(f"{text!r} has an impossible time: {error}", hint=f"expected {EXPECTED_FORM}") from None
    return BuildTag(built_at, int(build), parse_release(version), sha, arch)


def check_build_stem(text: str) -> str:
    """A build's name, its tags without the architecture (where its multi-arch build index lives); else InputError."""
    if not re.fullmatch(_STEM_PATTERN, text):
        raise InputError(
            f"{text!r} is not a build's CalVer stem",
            hint="give the build tag without its architecture, e.g. 2025.10.25.1430-build.123-v0.1.0-abc1234",
        )
    return text


class UnparsedTag(Value):
    tag: str
    reason: str


class OrderedBuildTags(Value):
    """The build tags found among a repository's tags, oldest first, and the tags that are not build tags."""

    tags: tuple[BuildTag, ...]
    unparsed: tuple[UnparsedTag, ...]


def order_build_tags(texts: Iterable[str]) -> OrderedBuildTags:
    """Parse every tag it can, order them by (time, build number), and report the rest."""
    parsed: list[BuildTag] = []
    unparsed: list[UnparsedTag] = []
    for text in texts:
        try:
            parsed.append(parse_build_tag(text))
        except InputError as error:
            unparsed.append(UnparsedTag(text, error.message))
    parsed.sort(key=lambda tag: (tag.order_key, tag.sha, tag.arch))
    return OrderedBuildTags(tuple(parsed), tuple(unparsed))


def stamp(at: datetime) -> str:
    """The `YYYY.MM.DD.HHMM` a build tag of `at` (UTC) starts with: every build tag of that minute or later sorts
    after it as text, every earlier one before it."""
    return f"{at.astimezone(UTC):%Y.%m.%d.%H%M}"
