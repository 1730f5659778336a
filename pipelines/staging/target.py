"""Which build runs in staging: the newest complete build of an image project that has a build index.

The staging stack pins each staging Application to that build's index digest, resolved
from the registry at `pulumi up` (no file is written per RC, so two projects' RC builds
never race on one). The choosing rule is promote's (`pipelines.images.rules`): builds
grouped from their CalVer tags and ordered by (time, build number), a build complete when
every platform of the catalog is pushed. Staging adds one condition: the build wrote its
own multi-arch index at the CalVer stem (`build-index`), because staging must run the very
digest a release will copy to `{VERSION}`. Newer builds passed over are reported with why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pipelines.core.calver import order_build_tags
from pipelines.core.catalog import Project, image_projects
from pipelines.core.errors import Corrupt, Unavailable
from pipelines.deploy.pins import ImagePin
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.connect import connect
from pipelines.images.registry.manifests import Manifest
from pipelines.images.rules import Build, group_builds

NEWEST_REPORTED = 5  # how many passed-over builds a choice reports


@dataclass(frozen=True)
class StagingChoice:
    """The build staging runs (None when no build qualifies), and the newer builds passed over, with why."""

    build: Build | None
    passed_over: tuple[str, ...]


def choose_staging_build(tag_names: Iterable[str], platforms: tuple[str, ...]) -> StagingChoice:
    """The newest build, of any version, that has every platform and a build index at its stem."""
    tag_names = tuple(tag_names)
    present = set(tag_names)
    passed_over: list[str] = []
    for build in group_builds(order_build_tags(tag_names).tags):
        missing = build.missing(platforms)
        if not missing and build.name in present:
            return StagingChoice(build, tuple(passed_over[:NEWEST_REPORTED]))
        why = f"missing {', '.join(missing)}" if missing else "no build index at its stem (build-index did not run)"
        passed_over.append(f"{build.name} ({why})")
    return StagingChoice(None, tuple(passed_over[:NEWEST_REPORTED]))


@dataclass(frozen=True)
class StagingTarget:
    """What a staging Application runs: one build's index, by digest."""

    project: str
    repository: str  # HOST/NAMESPACE/NAME
    build: str | None  # the CalVer stem; None when no build qualifies yet
    version: str | None
    digest: str | None  # the build index's digest
    platforms: tuple[tuple[str, str], ...]  # (arch, image manifest digest), in catalog order
    passed_over: tuple[str, ...]

    def pin(self) -> ImagePin:
        """The target in the stack config's pin shape, which the Argo CD component takes."""
        return ImagePin(self.project, self.repository, self.version, self.digest, self.platforms, self.build)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "repository": self.repository,
            "build": self.build,
            "version": self.version,
            "digest": self.digest,
            "platforms": dict(self.platforms),
            "passed_over": list(self.passed_over),
        }


def index_platforms(project: Project, stem: str, index: Manifest) -> tuple[tuple[str, str], ...]:
    """(arch, digest) of each catalog platform the build index lists; Corrupt when it is no complete index."""
    if not index.is_index:
        raise Corrupt(
            f"{project.name}:{stem} is an image manifest, not a build index",
            hint=f"run `python -m pipelines build-index {project.name} --build {stem}` again; it refuses to "
            "overwrite, so delete the stray tag first",
        )
    images = {
        child.platform.architecture: child.digest
        for child in index.children()
        if child.platform is not None and not child.is_attestation
    }
    missing = [arch for arch in project.platforms if arch not in images]
    if missing:
        raise Corrupt(
            f"the build index {project.name}:{stem} lacks {', '.join(missing)}",
            hint="the build index must list every platform of the catalog; rebuild the RC",
        )
    return tuple((arch, images[arch]) for arch in project.platforms)


def resolve_target(client: RegistryClient, project: Project) -> StagingTarget:
    """Read the project's tags and its chosen build index from the registry (one tag list, one manifest)."""
    location = client.location
    repository = location.repository(str(project.image_name))
    choice = choose_staging_build(client.list_tags(repository).tags, project.platforms)
    full_name = project.image_repository(str(location))
    if choice.build is None:
        return StagingTarget(project.name, full_name, None, None, None, (), choice.passed_over)
    stem = choice.build.name
    index = client.get_manifest(repository, stem)
    return StagingTarget(
        project.name,
        full_name,
        stem,
        choice.build.version.release,
        index.digest,
        index_platforms(project, stem, index),
        choice.passed_over,
    )


def resolve_targets(registry: str, say: Callable[[str], None] | None = None) -> dict[str, StagingTarget]:
    """The staging target of every image project of the catalog, by project name."""
    try:
        with connect(registry, say=say) as client:
            return {project.name: resolve_target(client, project) for project in image_projects()}
    except Unavailable as error:
        # The client's own hint speaks of promote; here nothing was written, so running again is all it takes.
        raise Unavailable(
            error.message,
            hint="nothing was changed: run `pulumi up --stack staging` again later (or re-run the RC's staging job)",
        ) from None
