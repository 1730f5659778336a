"""`wheels check-unpublished`: before a build, refuse a version whose files are already on the index; before an
upload, say which of the run's files the index already has byte for byte.

The rules are `pipelines.wheels.published`; the index is read through `pipelines.wheels.index`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, path_argument
from pipelines.core.catalog import TESTPYPI, get_wheel_project
from pipelines.core.errors import NotFound
from pipelines.output import emit, progress


@dataclass(frozen=True)
class CheckUnpublishedRequest:
    project: str
    version: str
    index: str
    files: Path | None
    json: bool


def _check_unpublished(request: CheckUnpublishedRequest) -> int:
    from pipelines.core.versions import parse_version
    from pipelines.wheels.folder import local_files
    from pipelines.wheels.index import IndexFile, PackageIndex
    from pipelines.wheels.published import files_of_version, plan_upload, refuse_published

    project = get_wheel_project(request.project)
    version = parse_version(request.version)
    distribution = project.distribution or project.name
    local: dict[str, str] | None = None
    if request.files is not None:
        local = local_files(project, version, request.files)
    index = PackageIndex(request.index)
    progress(f"reading the files of {distribution} on {index.base_url}")
    listed: list[IndexFile]
    try:
        listed = index.project_files(distribution)
    except NotFound:
        listed = []  # the project was never uploaded there: nothing of this version either
    finally:
        index.close()
    mine = set(files_of_version(project, version, [f.filename for f in listed]))
    published = [f for f in listed if f.filename in mine]
    data: dict[str, Any] = {
        "project": project.name,
        "version": version.pep440(),
        "index": index.base_url,
        "published": [{"filename": f.filename, "sha256": f.sha256, "yanked": f.yanked} for f in published],
    }
    if local is None:
        refuse_published(project, version, published, index.base_url)
        emit(
            request.json,
            data,
            f"no file of {project.name} {version} on {index.base_url}: this build may upload its own",
        )
        return 0
    plan = plan_upload(project, version, published, local, index.base_url)
    data["already_published"] = [{"filename": n, "sha256": local[n]} for n in plan.already_published]
    data["to_upload"] = [{"filename": n, "sha256": local[n]} for n in plan.to_upload]
    lines = [
        f"{project.name} {version} on {index.base_url}: {len(plan.already_published)} of the {len(local)} files "
        f"already there byte for byte (skip them), {len(plan.to_upload)} to upload"
    ]
    lines += [f"  on the index, same sha256: {n}" for n in plan.already_published]
    lines += [f"  to upload: {n}" for n in plan.to_upload]
    emit(request.json, data, "\n".join(lines))
    return 0


def register_check_unpublished(group: Any) -> None:
    check = add_command(
        group,
        "check-unpublished",
        summary="refuse a version already on the index, before building; or say which files to upload",
        description="Without --files (before a build): exit 0 when the index holds no file of PROJECT at VERSION,\n"
        'exit 1 when it holds any ("Version already exists"): the index never takes a file name twice and a\n'
        "new build's files differ byte for byte, so the build would fail at its upload after building\n"
        "everything. The message names the fix: the next rc tag.\n"
        "With --files DIR (right before an upload, e.g. 'Re-run failed jobs' after an upload that stopped\n"
        "half-way): every file of DIR the index already has must have the same sha256 there, and the index\n"
        "must hold no file of VERSION that DIR lacks (exit 1 otherwise: two builds would mix); --json lists\n"
        "already_published (skip them) and to_upload. Exit 1 also when the index cannot be read; 2 for bad input.",
        request=CheckUnpublishedRequest,
        run=_check_unpublished,
        examples="  python -m pipelines wheels check-unpublished percolate-rocks 0.2.0rc1\n"
        "  python -m pipelines wheels check-unpublished percolate-rocks 0.2.0rc1 --files dist --json\n"
        "  python -m pipelines wheels check-unpublished percolate-rocks 0.2.0 --index https://pypi.org/simple/",
    )
    check.add_argument("project", metavar="PROJECT", help="a catalog project that ships wheels")
    check.add_argument("version", metavar="VERSION", help="the version the build makes, e.g. 0.2.0rc1")
    check.add_argument(
        "--index", default=TESTPYPI.simple_url, metavar="URL", help=f"the index (default: {TESTPYPI.simple_url})"
    )
    check.add_argument(
        "--files",
        type=path_argument,
        metavar="DIR",
        help="the files about to be uploaded: compare them with the index instead of refusing any",
    )
