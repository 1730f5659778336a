"""`calver`: the CalVer tag of one platform image of an RC build."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command, add_registry_option, positive_int, timestamp
from pipelines.commands.environment import environment, now
from pipelines.core.calver import EXPECTED_FORM, make_build_tag
from pipelines.core.catalog import get_image_project
from pipelines.core.errors import InputError
from pipelines.output import emit

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True)
class CalverRequest:
    project: str
    version: str
    sha: str
    arch: str
    build: int
    at: datetime | None
    registry: str
    json: bool


def _calver(request: CalverRequest) -> int:
    project = get_image_project(request.project)
    if request.arch not in project.platforms:
        raise InputError(
            f"{project.name} is not built for {request.arch!r}", hint=f"its platforms: {', '.join(project.platforms)}"
        )
    build_tag = make_build_tag(
        version=request.version, sha=request.sha, arch=request.arch, build=request.build, at=request.at or now()
    )
    reference = f"{project.image_name}:{build_tag.tag}"
    data = {
        "project": project.name,
        "tag": build_tag.tag,
        "reference": reference,
        "image": f"{project.image_repository(request.registry)}:{build_tag.tag}",
        "built_at": build_tag.built_at.isoformat().replace("+00:00", "Z"),
        "build": build_tag.build,
        "version": build_tag.version.release,
        "sha": build_tag.sha,
        "arch": build_tag.arch,
    }
    emit(request.json, data, reference)
    return 0


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "calver",
        summary="format the CalVer tag of an RC image build",
        description=f"Print PROJECT:TAG with TAG of the form {EXPECTED_FORM}.\n"
        "The time is taken to UTC and whole minutes; N is the Actions run number. Build tags order by\n"
        "(time, N) as numbers, never as text. --json adds the full image reference under --registry.",
        request=CalverRequest,
        run=_calver,
        examples="  python -m pipelines calver percolate --version 0.1.0 --sha abc1234def --arch amd64 \\\n"
        "      --build 123 --at 2025-10-25T14:30:00Z\n"
        "  -> percolate:2025.10.25.1430-build.123-v0.1.0-abc1234-amd64",
    )
    parser.add_argument("project", metavar="PROJECT", help="an image project: percolate or percolate-reading")
    parser.add_argument("--version", required=True, metavar="V", help="the final version being built, X.Y.Z")
    # Inside Actions the run supplies the commit and run number; elsewhere they must be given.
    parser.add_argument(
        "--sha",
        default=environment("GITHUB_SHA"),
        required=environment("GITHUB_SHA") is None,
        metavar="SHA",
        help="the commit (default: $GITHUB_SHA)",
    )
    parser.add_argument("--arch", required=True, metavar="ARCH", help="the platform's architecture, e.g. amd64")
    parser.add_argument(
        "--build",
        type=positive_int,
        default=environment("GITHUB_RUN_NUMBER"),
        required=environment("GITHUB_RUN_NUMBER") is None,
        metavar="N",
        help="the build number (default: $GITHUB_RUN_NUMBER)",
    )
    parser.add_argument("--at", type=timestamp, metavar="ISO8601", help="the build time (default: now)")
    add_registry_option(parser)
