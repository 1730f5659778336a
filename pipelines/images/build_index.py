"""The build index: an RC build's own multi-arch index, written at its CalVer stem once every platform is pushed.

Staging deploys this index by digest, and promote later copies it byte for byte to
`{VERSION}`, so the digest that ran in staging is the digest released. It lists what the
release index of the same build would list (each platform image, with its attestation
manifests). An incomplete build gets no index; a stem that already holds another index
is never moved (a platform was pushed again after it was written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.core.calver import check_build_stem
from pipelines.core.catalog import Project, get_image_project
from pipelines.core.errors import RuleRefused
from pipelines.images.reading import read_build
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.manifests import image_index
from pipelines.images.release import put_and_read_back
from pipelines.images.rules import TagWrite, platform_entries


@dataclass(frozen=True)
class BuildIndexResult:
    project: str
    build: str
    repository: str  # host/namespace/image
    digest: str
    platforms: dict[str, str]  # arch -> the platform image's digest the index lists
    written: bool  # False: the stem already held this index

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.build}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "build": self.build,
            "reference": self.reference,
            "image": f"{self.repository}@{self.digest}",
            "digest": self.digest,
            "platforms": dict(self.platforms),
            "written": self.written,
        }


def write_build_index(
    project: Project, stem: str, client: RegistryClient, *, say: Callable[[str], None] = lambda message: None
) -> BuildIndexResult:
    """Read every platform of build `stem`, then write their index at `stem`; RuleRefused for an incomplete build."""
    check_build_stem(stem)
    repository = client.location.repository(str(get_image_project(project.name).image_name))
    build_tags = {arch: f"{stem}-{arch}" for arch in project.platforms}
    for arch, tag in build_tags.items():
        say(f"reading {arch}: {tag}")
    # The stem is checked with the last read: as fresh as a check right before the write.
    read = read_build(client, repository, build_tags, check=(stem,))
    if read.missing:
        raise RuleRefused(
            f"build {stem} of {project.name} is incomplete: no image at "
            f"{', '.join(build_tags[arch] for arch in read.missing)} (it needs {', '.join(project.platforms)})",
            hint="an index is written only once every platform is pushed: re-run the failed push jobs, "
            "then build-index again",
        )
    index = image_index(platform_entries(read.sources))
    existing = read.checked[stem]
    if existing is not None and existing != index.digest:
        raise RuleRefused(
            f"{stem} already holds the index {existing}, and this build's platform tags give {index.digest} "
            "(nothing was written)",
            hint="a platform image was pushed again after the index was written; a build index never moves: "
            "push a new RC tag",
        )
    if existing is None:
        write = TagWrite(stem, index, None)
        put_and_read_back(client, repository, write, say, what="build index", who="build-index")
    else:
        say(f"{stem} already holds {index.digest}: unchanged")
    return BuildIndexResult(
        project=project.name,
        build=stem,
        repository=f"{client.location.host}/{repository}",
        digest=index.digest,
        platforms={source.arch: source.entry.digest for source in read.sources},
        written=existing is None,
    )
