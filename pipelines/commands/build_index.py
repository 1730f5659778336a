"""`build-index PROJECT --build STEM`: write an RC build's multi-arch index at its CalVer stem."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.commands.arguments import add_command, add_max_time_option, add_registry_option
from pipelines.core.calver import check_build_stem
from pipelines.core.catalog import get_image_project, image_projects
from pipelines.output import actions_outputs, emit, progress


@dataclass(frozen=True)
class BuildIndexRequest:
    project: str
    build: str
    registry: str
    max_time: float
    json: bool


def describe(data: dict[str, Any]) -> str:
    verb = "wrote" if data["written"] else "unchanged:"
    lines = [f"{verb} the build index {data['reference']}", f"  digest  {data['digest']}"]
    lines += [f"  {arch:<7} {digest}" for arch, digest in data["platforms"].items()]
    lines.append(f"  staging deploys {data['image']}")
    requests = data["requests"]
    lines.append(f"  requests {requests['total']}; {requests['retries']} retries")
    return "\n".join(lines)


def _build_index(request: BuildIndexRequest) -> int:
    from pipelines.images.build_index import write_build_index
    from pipelines.images.registry.connect import connect

    project = get_image_project(request.project)
    stem = check_build_stem(request.build)
    with connect(request.registry, push=True, max_time=request.max_time, say=progress) as client:
        result = write_build_index(project, stem, client, say=progress)
        stats = client.stats
    data = {**result.to_dict(), "requests": stats.to_dict()}
    emit(request.json, data, describe(data))
    actions_outputs({"digest": result.digest, "image": data["image"], "reference": result.reference})
    return 0


def register(subcommands: Any) -> None:
    names = " or ".join(p.name for p in image_projects())
    parser = add_command(
        subcommands,
        "build-index",
        summary="write an RC build's multi-arch index at its CalVer stem",
        description=f"Once every platform image of an RC build of PROJECT ({names}) is pushed at\n"
        "STEM-{ARCH}, write the build's multi-arch OCI index at STEM: each platform image with its\n"
        "attestation manifests, the same index a release of this build would have. Staging deploys\n"
        "this index by digest, and promote copies it byte for byte to {VERSION}, so the digest that\n"
        "ran in staging is the digest released.\n"
        "An incomplete build is refused (exit 1, nothing written). Re-running is a no-op; a STEM that\n"
        "already holds another index is never moved (exit 1). No blob is copied.\n"
        "In GitHub Actions the digest becomes the step outputs digest, image and reference.",
        request=BuildIndexRequest,
        run=_build_index,
        examples="  python -m pipelines build-index percolate --build 2025.11.20.0930-build.123-v0.2.0-abc1234\n"
        '  python -m pipelines build-index percolate-reading --build "$STEM" --json',
    )
    parser.add_argument("project", metavar="PROJECT", help=f"an image project: {names}")
    parser.add_argument(
        "--build",
        required=True,
        metavar="STEM",
        help="the build's CalVer tag without the architecture, e.g. 2025.11.20.0930-build.123-v0.2.0-abc1234",
    )
    add_registry_option(parser)
    add_max_time_option(parser)
