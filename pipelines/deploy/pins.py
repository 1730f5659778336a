"""The images subtree of the stack config: `percolate-platform:images`, its shape and its rules.

Release jobs write this subtree into `Pulumi.prod.yaml`; the Pulumi program reads it
to pin each Argo CD Application to `repository@digest`. This module is the one place
that knows the shape:

    percolate:                                   # an image project of the catalog
      repository: ghcr.io/percolation-labs/percolate
      version: 0.1.0                             # X.Y.Z, the released version
      digest: sha256:<64 hex>                    # the multi-arch index, what Argo CD pins
      platforms: {amd64: sha256:<64 hex>, arm64: sha256:<64 hex>}   # every catalog platform
      source: 2025.10.25.1430-build.123-v0.1.0-abc1234              # the RC build promoted
      blocked: [0.2.0]                           # optional: versions automation never promotes again

An entry with only `repository` (and perhaps `blocked`) is an image not released yet:
it is declared but not pinned. Parsing is pure: it takes the decoded YAML/JSON value
and returns frozen `ImagePin`s, or raises `InputError` naming the key and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.calver import parse_build_tag
from pipelines.core.catalog import PULUMI_PROJECT, STACK_CONFIG_FILE, get_project, image_projects
from pipelines.core.digests import DIGEST_FORM, is_digest
from pipelines.core.errors import InputError
from pipelines.core.versions import parse_release

IMAGES_KEY = f"{PULUMI_PROJECT}:images"
PIN_FIELDS = ("repository", "version", "digest", "platforms", "source")
OPTIONAL_FIELDS = ("blocked",)
RELEASE_FIELDS = ("version", "digest", "platforms", "source")

# HOST[:PORT]/path with lower-case path components, as the OCI distribution spec names repositories.
_REPOSITORY = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+")


@dataclass(frozen=True)
class ImagePin:
    """What the stack config says about one image project: where it lives and, once released, its digests."""

    project: str
    repository: str
    version: str | None = None
    digest: str | None = None
    platforms: tuple[tuple[str, str], ...] = ()  # (arch, manifest digest), in catalog order
    source: str | None = None
    blocked: tuple[str, ...] = ()

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    @property
    def reference(self) -> str:
        """`repository@sha256:…`, the reference Argo CD deploys; only for a pinned image."""
        if self.digest is None:
            raise InputError(
                f"{self.project} has no digest in {IMAGES_KEY} yet",
                hint=f"release it first: python -m pipelines promote {self.project}-vX.Y.Z",
            )
        return f"{self.repository}@{self.digest}"

    def platform_digests(self) -> dict[str, str]:
        return dict(self.platforms)

    def to_dict(self) -> dict[str, Any]:
        """The entry as the stack file holds it (the inverse of `parse_image_pin`)."""
        entry: dict[str, Any] = {"repository": self.repository}
        if self.pinned:
            entry.update(
                version=self.version, digest=self.digest, platforms=self.platform_digests(), source=self.source
            )
        if self.blocked:
            entry["blocked"] = list(self.blocked)
        return entry


class StackConfigError(InputError):
    """A contract violation, with the dotted key it is about (so a file reader can point at the line)."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        where = f"{STACK_CONFIG_FILE}: {key}" if key.startswith(IMAGES_KEY) else key
        super().__init__(f"{where}: {problem}", hint=fix)
        self.key = key


def _fail(path: str, problem: str, fix: str) -> StackConfigError:
    return StackConfigError(path, problem, fix)


def _string(value: Any, path: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"expected a non-empty string, got {value!r}", f"set it, e.g. {example}")
    return value


def _digest(value: Any, path: str) -> str:
    text = _string(value, path, "sha256:" + "0" * 64)
    if not is_digest(text):
        raise _fail(path, f"{text!r} is not a digest", f"use {DIGEST_FORM}")
    return text


def _release(value: Any, path: str) -> str:
    text = _string(value if not isinstance(value, (int, float)) else str(value), path, "0.1.0")
    try:
        return parse_release(text).release
    except InputError as error:
        raise _fail(path, error.message, "use a final version MAJOR.MINOR.PATCH, e.g. 0.1.0") from None


def _platforms(value: Any, path: str, expected: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"expected a mapping of architecture to digest, got {value!r}", f"give {', '.join(expected)}")
    unknown = sorted(set(map(str, value)) - set(expected))
    if unknown:
        raise _fail(
            path, f"unknown platform(s) {', '.join(unknown)}", f"the catalog's platforms are {', '.join(expected)}"
        )
    missing = [arch for arch in expected if arch not in value]
    if missing:
        raise _fail(path, f"missing platform(s) {', '.join(missing)}", "a release pins every platform of the catalog")
    return tuple((arch, _digest(value[arch], f"{path}.{arch}")) for arch in expected)


def _source(value: Any, path: str, version: str, arch: str) -> str:
    text = _string(value, path, f"2025.10.25.1430-build.123-v{version}-abc1234")
    # The source names the build across platforms: a CalVer build tag without its -ARCH suffix.
    try:
        build = parse_build_tag(f"{text}-{arch}")
    except InputError:
        raise _fail(
            path,
            f"{text!r} is not an RC build",
            f"use YYYY.MM.DD.HHMM-build.N-v{version}-SHA7 (the CalVer tag without -ARCH)",
        ) from None
    if build.version.release != version:
        raise _fail(
            path, f"build {text} is of version {build.version.release}, not {version}", "pin the build of this version"
        )
    return text


def _blocked(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _fail(path, f"expected a list of versions, got {value!r}", "e.g. blocked: [0.2.0]")
    versions = tuple(_release(item, f"{path}[{index}]") for index, item in enumerate(value))
    return tuple(dict.fromkeys(versions))


def parse_image_pin(project_name: str, data: Any, *, key: str = IMAGES_KEY) -> ImagePin:
    """Validate one entry of the images subtree; `key` is the subtree's name for messages."""
    path = f"{key}.{project_name}"
    try:
        project = get_project(project_name)
    except InputError:
        known = ", ".join(p.name for p in image_projects())
        raise _fail(path, f"unknown project {project_name!r}", f"image projects are: {known}") from None
    if not project.ships_images:
        known = ", ".join(p.name for p in image_projects())
        raise _fail(path, f"{project_name} ships no container image", f"remove it; image projects are: {known}")
    if not isinstance(data, Mapping):
        raise _fail(path, f"expected a mapping, got {data!r}", f"give {', '.join(PIN_FIELDS)}")
    unknown = sorted(set(map(str, data)) - set(PIN_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise _fail(
            path, f"unknown key(s) {', '.join(unknown)}", f"the keys are {', '.join(PIN_FIELDS + OPTIONAL_FIELDS)}"
        )

    repository = _string(data.get("repository"), f"{path}.repository", project.image_repository())
    if not _REPOSITORY.fullmatch(repository) or repository.rsplit("/", 1)[-1] != project.image_name:
        raise _fail(
            f"{path}.repository",
            f"{repository!r} is not a repository of image {project.image_name}",
            f"use HOST[:PORT]/NAMESPACE/{project.image_name}, e.g. {project.image_repository()}",
        )
    blocked = _blocked(data["blocked"], f"{path}.blocked") if data.get("blocked") is not None else ()

    present = [field for field in RELEASE_FIELDS if data.get(field) is not None]
    if not present:
        return ImagePin(project.name, repository, blocked=blocked)
    if data.get("digest") is None:
        raise _fail(
            f"{path}.digest",
            f"missing, but {', '.join(present)} {'is' if len(present) == 1 else 'are'} set",
            "a released image needs version, digest, platforms and source; an unreleased one only repository",
        )
    for field in RELEASE_FIELDS:
        if data.get(field) is None:
            raise _fail(f"{path}.{field}", "missing", "a released image needs version, digest, platforms and source")

    version = _release(data["version"], f"{path}.version")
    if version in blocked:
        raise _fail(
            f"{path}.blocked",
            f"the pinned version {version} is blocked",
            f"pin another release (python -m pipelines rollback {project.name}) or remove {version} from blocked",
        )
    platforms = _platforms(data["platforms"], f"{path}.platforms", project.platforms)
    return ImagePin(
        project=project.name,
        repository=repository,
        version=version,
        digest=_digest(data["digest"], f"{path}.digest"),
        platforms=platforms,
        source=_source(data["source"], f"{path}.source", version, project.platforms[0]),
        blocked=blocked,
    )


def parse_images(data: Any, *, key: str = IMAGES_KEY) -> dict[str, ImagePin]:
    """Validate the whole images subtree: a mapping of image project to entry (absent projects are unreleased)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise _fail(
            key, f"expected a mapping of project to image, got {data!r}", "see the images subtree in docs/infra.md"
        )
    return {str(name): parse_image_pin(str(name), entry, key=key) for name, entry in data.items()}
