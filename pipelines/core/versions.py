"""Project versions: the X.Y.Z[-pre] values and their PEP 440 and Cargo spellings (the agreement rule of
version files is in `version_check`).

Python packages spell a release candidate `0.2.0rc1` (PEP 440), Cargo spells it
`0.2.0-rc.1` (SemVer). Both are parsed into one `ProjectVersion`: `packaging` reads
the PEP 440 spellings (normalised forms included), a pattern the Cargo ones. Only
the subset both worlds can express is accepted: MAJOR.MINOR.PATCH with an optional
alpha, beta or rc number.
"""

from __future__ import annotations

import re

from pipelines.core.errors import InputError
from pipelines.core.values import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `tag parse` starts fast
if TYPE_CHECKING:
    from packaging.version import Version

_NUMBER = r"(?:0|[1-9][0-9]*)"
# Compiled on first use (re keeps it), not at import: `tag parse` never reads a Cargo version.
_CARGO = rf"({_NUMBER})\.({_NUMBER})\.({_NUMBER})(?:-(alpha|beta|rc)\.([1-9][0-9]*))?"
_CARGO_PRE = {"alpha": "a", "beta": "b", "rc": "rc"}
_PEP440_PRE = {short: long for long, short in _CARGO_PRE.items()}
_SUPPORTED = "MAJOR.MINOR.PATCH with an optional rcN, aN or bN (PEP 440) / -rc.N, -alpha.N, -beta.N (Cargo)"


class ProjectVersion(Value):
    """A version both PEP 440 and Cargo can spell: X.Y.Z with an optional (kind, number) pre-release."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, int] | None = None  # kind is "a", "b" or "rc", as packaging names them

    @property
    def release(self) -> str:
        """The final version this one leads to: `0.2.0` for `0.2.0rc1`."""
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None

    def pep440(self) -> str:
        return self.release + (f"{self.pre[0]}{self.pre[1]}" if self.pre else "")

    def cargo(self) -> str:
        return self.release + (f"-{_PEP440_PRE[self.pre[0]]}.{self.pre[1]}" if self.pre else "")

    def with_rc(self, number: int) -> ProjectVersion:
        return ProjectVersion(self.major, self.minor, self.patch, ("rc", number))

    def sort_key(self) -> Version:
        from packaging.version import Version

        return Version(self.pep440())

    def __str__(self) -> str:
        return self.pep440()


# No real version is longer; a longer text is refused before any number in it is converted (Python
# refuses integers of more than 4,300 digits with a ValueError).
MAX_VERSION_LENGTH = 200


def _bounded(text: str) -> str:
    if len(text) > MAX_VERSION_LENGTH:
        raise InputError(
            f"{text[:20]!r}… is not a version: longer than {MAX_VERSION_LENGTH} characters", hint=f"use {_SUPPORTED}"
        )
    return text


def parse_pep440(text: str) -> ProjectVersion:
    """Parse a PEP 440 version such as `0.2.0` or `0.2.0rc1` (normalised spellings accepted)."""
    _bounded(text)
    # Imported here, as in every function of this module that needs it: `tag parse` never does.
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(text)
    except InvalidVersion:
        raise InputError(f"{text!r} is not a PEP 440 version", hint=f"use {_SUPPORTED}") from None
    if parsed.epoch or parsed.post is not None or parsed.dev is not None or parsed.local or len(parsed.release) != 3:
        raise InputError(f"{text!r} cannot be expressed in both PEP 440 and Cargo SemVer", hint=f"use {_SUPPORTED}")
    major, minor, patch = parsed.release
    return ProjectVersion(major, minor, patch, parsed.pre)


def parse_cargo(text: str) -> ProjectVersion:
    """Parse a Cargo SemVer version such as `0.2.0` or `0.2.0-rc.1`."""
    match = re.fullmatch(_CARGO, _bounded(text))
    if not match:
        raise InputError(f"{text!r} is not a Cargo version we can publish", hint=f"use {_SUPPORTED}")
    # The pattern admits only what PEP 440 spells too, so the groups are the version: no packaging needed,
    # which keeps it out of every command that only reads CalVer and release tags.
    major, minor, patch, kind, number = match.groups()
    pre = (_CARGO_PRE[kind], int(number)) if kind else None
    return ProjectVersion(int(major), int(minor), int(patch), pre)


def parse_version(text: str) -> ProjectVersion:
    """Parse either spelling: `0.2.0-rc.1` (Cargo) or `0.2.0rc1` (PEP 440)."""
    return parse_cargo(text) if re.fullmatch(_CARGO, _bounded(text)) else parse_pep440(text)


def parse_release(text: str) -> ProjectVersion:
    """Parse a final version MAJOR.MINOR.PATCH, refusing pre-releases."""
    version = parse_version(text)
    if version.is_prerelease:
        raise InputError(f"{text!r} is a pre-release", hint=f"give the final version, e.g. {version.release}")
    return version
