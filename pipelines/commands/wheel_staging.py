"""`wheels staging-record` and find-rc's `--require-staging`: the staging record of a wheel RC (TestPyPI).

`staging-record` writes the record the RC build's staging job signs and attaches to the RC's GitHub
pre-release; `require_staging` is what `wheels find-rc --require-staging` runs on the files it
downloaded before they appear in --to: the record's signature first (`pipelines.staging.wheel_signature`,
the trust anchor), then what the record says (`pipelines.staging.wheel_record`). The GitHub read is
`pipelines.edges.release_assets`, the Sigstore verification `pipelines.edges.sigstore_bundles`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command
from pipelines.core.catalog import TESTPYPI, Project, get_wheel_project
from pipelines.core.errors import InputError, RuleRefused
from pipelines.core.tags import format_tag
from pipelines.core.versions import ProjectVersion
from pipelines.output import emit, progress
from pipelines.staging.wheel_record import RECORD_ASSET, RESULTS, WheelStagingRecord

if TYPE_CHECKING:
    from pipelines.wheels.index import IndexFile


@dataclass(frozen=True)
class StagingRecordRequest:
    project: str
    version: str
    result: str
    out: Path
    index: str
    run_url: str | None
    files: Path | None
    json: bool


def add_staging_options(find: argparse.ArgumentParser) -> None:
    find.add_argument(
        "--require-staging",
        action="store_true",
        help=f"take the RC only when its staging passed: {RECORD_ASSET} on its GitHub release, signed (Sigstore "
        "bundle beside it) by this repository's RC build workflow at the RC's tag, says passed for exactly the "
        "files downloaded (reads GITHUB_REPOSITORY, GITHUB_TOKEN and GITHUB_API_URL)",
    )
    find.add_argument(
        "--sigstore-trusted-root",
        type=Path,
        metavar="FILE",
        help="with --require-staging: trust the Sigstore instance this trusted_root.json describes (a private "
        "deployment) instead of the public-good instance, whose trusted root is fetched through TUF",
    )


def require_staging(
    project: Project, release: ProjectVersion, rc: int, files: Mapping[str, str], *, trusted_root: Path | None = None
) -> WheelStagingRecord:
    """The passed and signed staging record of `rc`, for exactly `files` (name -> sha256); RuleRefused otherwise.

    `trusted_root` is the Sigstore instance to trust (None: the public-good one, through TUF).
    """
    from pipelines.edges.github import token_from_environment
    from pipelines.edges.release_assets import ReleaseAssets
    from pipelines.edges.sigstore_bundles import BundleVerifier
    from pipelines.staging.wheel_record import parse_record, require_passed
    from pipelines.staging.wheel_signature import SIGNATURE_ASSET, record_signer, require_signed

    repository, token = os.environ.get("GITHUB_REPOSITORY"), token_from_environment()
    if not repository or not token:
        raise InputError(
            "--require-staging reads the RC's GitHub release: no GITHUB_REPOSITORY or GITHUB_TOKEN set",
            hint="set GITHUB_REPOSITORY=owner/name and GITHUB_TOKEN (contents: read)",
        )
    tag = format_tag(project.name, release, rc)
    progress(f"reading the staging record of {tag} ({RECORD_ASSET} and {SIGNATURE_ASSET} on its GitHub release)")
    api = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    with ReleaseAssets(api, repository, token) as assets:
        found = assets.read(tag, (RECORD_ASSET, SIGNATURE_ASSET))
    asset, signature = found[RECORD_ASSET], found[SIGNATURE_ASSET]
    version = f"{release.release}rc{rc}"
    if asset is None:
        return require_passed(None, None, tag=tag, project=project.name, version=version, files=files)
    signer = record_signer(project, repository, tag)
    progress(f"verifying its signature: {signer.identity}, trigger {signer.trigger}")
    require_signed(
        asset.content, signature.content if signature else None, signer, BundleVerifier(trusted_root), tag=tag
    )
    record = parse_record(asset.content, f"{RECORD_ASSET} of {tag}")
    return require_passed(record, asset.uploader, tag=tag, project=project.name, version=version, files=files)


def _staging_record(request: StagingRecordRequest) -> int:
    from packaging.version import InvalidVersion, Version

    from pipelines.edges.files import atomic_write_text
    from pipelines.staging.wheel_record import make_record, record_json
    from pipelines.wheels.index import PackageIndex
    from pipelines.wheels.select import parse_filename

    project = get_wheel_project(request.project)
    try:
        version = Version(request.version)
    except InvalidVersion:
        raise InputError(f"{request.version!r} is not a version", hint="give the RC's version, e.g. 0.2.0rc1") from None
    if version.pre is None or version.pre[0] != "rc":
        raise InputError(f"{request.version} is no release candidate", hint="give X.Y.ZrcN, e.g. 0.2.0rc1")
    distribution = project.distribution or project.name
    built = _built_files(project, request.version, request.files) if request.files is not None else None
    index = PackageIndex(request.index)
    progress(f"reading the files of {distribution} {version} on {index.base_url}")
    served = []
    for file in index.project_files(distribution):
        try:
            named = parse_filename(file.filename)
        except InputError:
            continue
        if named.parsed_version == version:
            served.append(file)
    if built is not None:
        _require_exactly_built(project, request.version, served, built, index.base_url)
    files = {file.filename: file.sha256 for file in served if not file.yanked and file.sha256 is not None}
    if not files:
        raise InputError(
            f"{index.base_url} serves no file of {distribution} {version}",
            hint="record staging only after the RC's upload to the index",
        )
    record = make_record(
        project.name,
        str(version),
        request.result,
        files,
        index=index.base_url,
        run_url=request.run_url,
        now=datetime.now(UTC),
    )
    atomic_write_text(request.out, record_json(record))
    data: dict[str, Any] = {**record.to_dict(), "out": str(request.out)}
    lines = [f"staging {record.result}: {distribution} {version}, {len(files)} files, written to {request.out}"]
    emit(request.json, data, "\n".join(lines))
    return 0


def _built_files(project: Project, version: str, folder: Path) -> dict[str, str]:
    """name -> sha256 of the run's own files of `version` in --files."""
    from pipelines.core.versions import parse_version
    from pipelines.wheels.folder import local_files

    return local_files(
        project, parse_version(version), folder, folder_fix="pass the folder of the files this run built"
    )


def _require_exactly_built(
    project: Project, version: str, served: list[IndexFile], built: Mapping[str, str], index: str
) -> None:
    """RuleRefused unless the index serves exactly the run's own files of `version`, byte for byte: a record
    names what the index serves, so a file someone else put there would be released as tested."""
    from pipelines.core.versions import parse_version
    from pipelines.wheels.published import plan_upload

    plan = plan_upload(project, parse_version(version), served, built, index)
    if plan.to_upload:
        raise RuleRefused(
            f"{index} does not serve this run's {', '.join(plan.to_upload)} yet: the record would not name them",
            hint="re-run the publish job ('Re-run failed jobs'), then this one",
        )


def register_staging_record(group: Any) -> None:
    record = add_command(
        group,
        "staging-record",
        summary="write the staging record of a wheel RC (attach it to the RC's GitHub release)",
        description="Write the staging record of PROJECT's release candidate VERSION (X.Y.ZrcN) to --out: the\n"
        "result of its integration tests, run on clean runners against the files installed from the index,\n"
        "and the name and sha256 of every file the index serves for VERSION. The RC build attaches it to\n"
        f"the RC's GitHub release as {RECORD_ASSET}; `wheels find-rc --require-staging` reads it there.",
        request=StagingRecordRequest,
        run=_staging_record,
        examples="  python -m pipelines wheels staging-record percolate-rocks 0.2.0rc1 --result passed "
        "--out staging-record.json",
    )
    record.add_argument("project", metavar="PROJECT", help="a catalog project that ships wheels")
    record.add_argument("version", metavar="X.Y.ZrcN", help="the RC's version, e.g. 0.2.0rc1")
    record.add_argument("--result", required=True, choices=RESULTS, help="what the integration tests said")
    record.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the record")
    record.add_argument(
        "--index", default=TESTPYPI.simple_url, metavar="URL", help=f"the index (default: {TESTPYPI.simple_url})"
    )
    record.add_argument("--run-url", metavar="URL", help="the workflow run that tested the RC")
    record.add_argument(
        "--files",
        type=Path,
        metavar="DIR",
        help="the files this run built: the index must serve exactly these, byte for byte, and nothing else of "
        "the version (a file someone else uploaded is never recorded as tested)",
    )
