"""The files of one version in a local folder (`--files DIR`): what a run built, before it is uploaded or recorded."""

from __future__ import annotations

from pathlib import Path

from pipelines.core.catalog import Project
from pipelines.core.errors import InputError
from pipelines.core.versions import ProjectVersion
from pipelines.edges.files import file_sha256
from pipelines.wheels.published import files_of_version


def local_files(
    project: Project,
    version: ProjectVersion,
    folder: Path,
    *,
    folder_fix: str = "pass the folder of the files to upload",
) -> dict[str, str]:
    """name -> sha256 of the files of `version` in --files `folder` (also what `wheels staging-record --files`
    reads); InputError when it is no folder (`folder_fix` the hint), holds another file or none of the version."""
    if not folder.is_dir():
        raise InputError(f"--files {folder} is not a folder", hint=folder_fix)
    every = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    wanted = files_of_version(project, version, every)
    strangers = sorted(set(every) - set(wanted))
    if strangers:
        raise InputError(
            f"--files {folder} holds files that are not of this version: {', '.join(strangers)}",
            hint="pass the folder of the files to upload, and nothing else",
        )
    if not wanted:
        raise InputError(f"--files {folder} holds no wheel or sdist", hint="pass the folder of the files to upload")
    return {name: file_sha256(folder / name) for name in wanted}
