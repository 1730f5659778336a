"""`wheels find-rc` and `wheels promote`: the tested RC wheels of a project, re-versioned for release (the group
also holds `staging-record`, from `wheel_staging`, and `check-unpublished`, from `wheel_published`).

Both commands fill a hidden temp folder beside `--to` and move it into place only
when every file is written and verified, so a failure leaves no `--to` behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, add_group, add_root_option
from pipelines.commands.checkout import optional_checkout
from pipelines.commands.wheel_published import register_check_unpublished
from pipelines.commands.wheel_staging import add_staging_options, register_staging_record, require_staging
from pipelines.core.catalog import PROJECTS, TESTPYPI, Project, get_wheel_project
from pipelines.core.errors import InputError
from pipelines.core.release_commit import CommitCheck, check_commit
from pipelines.core.tags import format_tag
from pipelines.core.versions import ProjectVersion, parse_release
from pipelines.edges.files import file_sha256
from pipelines.output import emit, progress


@dataclass(frozen=True)
class FindRcRequest:
    project: str
    version: str
    index: str
    source_dir: Path | None
    to: Path
    allow_commit_mismatch: bool
    require_staging: bool
    sigstore_trusted_root: Path | None
    root: Path | None
    json: bool


@dataclass(frozen=True)
class PromoteRequest:
    source_dir: Path
    to: Path
    version: str
    project: str | None
    json: bool


def _default_wheel_project() -> str | None:
    names = [p.name for p in PROJECTS if p.ships_wheels]
    return names[0] if len(names) == 1 else None


def _source_files(folder: Path) -> list[Path]:
    """The regular, non-hidden files of `--from`."""
    if not folder.is_dir():
        raise InputError(f"--from {folder} is not a folder", hint="pass the folder holding the RC's files")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A temp folder beside `target` that becomes `target` when the block succeeds, and vanishes when it fails."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"--to {target} exists and is not an empty folder", hint="remove it or pass another --to")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield temp
        os.chmod(temp, 0o755)
        # rename(2) replaces an empty folder in one step.
        os.replace(temp, target)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _file_entry(path: Path, sha256: str) -> dict[str, Any]:
    return {"filename": path.name, "sha256": sha256, "size": path.stat().st_size}


def _check_rc_commit(request: FindRcRequest, project: Project, release: ProjectVersion, rc: int) -> CommitCheck:
    """The release tag must sit on the commit the chosen RC was tagged on (its files were built there)."""
    git = optional_checkout(request.root)
    rc_tag, release_tag = format_tag(project.name, release, rc), format_tag(project.name, release)
    return check_commit(
        f"RC {rc_tag}",
        git.commit_of(f"refs/tags/{rc_tag}") if git else None,
        release_tag,
        git.commit_of(f"refs/tags/{release_tag}") if git else None,
        in_checkout=git is not None,
        allow_mismatch=request.allow_commit_mismatch,
    )


def _find_rc(request: FindRcRequest) -> int:
    from pipelines.wheels.index import PackageIndex
    from pipelines.wheels.select import select_rc

    project = get_wheel_project(request.project)
    release = parse_release(request.version)
    distribution = project.distribution or project.name
    fetch: Callable[[str, Path], str]
    if request.source_dir is not None:
        local = {p.name: p for p in _source_files(request.source_dir)}
        names, source, yanked, verb = list(local), str(request.source_dir), [], "copying"

        def fetch(filename: str, target: Path) -> str:
            shutil.copyfile(local[filename], target)
            return file_sha256(target)

    else:
        index = PackageIndex(request.index)
        progress(f"reading {distribution} on {index.base_url}")
        listed = index.project_files(distribution)
        remote = {f.filename: f for f in listed if not f.yanked}
        names, source, verb = list(remote), index.base_url, "downloading"
        yanked = sorted(f.filename for f in listed if f.yanked)

        def fetch(filename: str, target: Path) -> str:
            return index.download(remote[filename], target)

    selection = select_rc(project, release, names)
    chosen = selection.require()
    commit = _check_rc_commit(request, project, release, chosen.rc)
    progress(f"commit check {commit.status.value}: {commit.detail}")
    files = []
    staged = None
    with _staged(request.to) as staging:
        for name in chosen.files:
            progress(f"{verb} {name.filename}")
            target = staging / name.filename
            files.append(_file_entry(target, fetch(name.filename, target)))
        if request.require_staging:
            # Checked on the bytes downloaded, before any of them appears in --to.
            digests = {entry["filename"]: entry["sha256"] for entry in files}
            staged = require_staging(
                project, release, chosen.rc, digests, trusted_root=request.sigstore_trusted_root
            ).to_dict()
    skipped = [{"rc": c.rc, "missing": list(c.missing)} for c in selection.candidates if c.rc > chosen.rc]
    data = {
        "project": project.name,
        "version": release.pep440(),
        "rc": chosen.rc,
        "package_version": chosen.version,
        "source": source,
        "to": str(request.to),
        "files": files,
        "skipped": skipped,
        "yanked": yanked,
        "commit_check": {"status": commit.status.value, "detail": commit.detail},
        "staging": staged,
    }
    lines = [f"chose {distribution} {chosen.version} from {source} into {request.to}"]
    lines += [f"  skipped rc{c.rc}: lacks {', '.join(c.missing)}" for c in selection.candidates if c.rc > chosen.rc]
    lines += [f"  {f['filename']}  sha256:{f['sha256']}  {f['size']} bytes" for f in files]
    if staged is not None:
        lines.append(f"  staging passed ({staged['recorded_at']}, {staged['run_url'] or 'no run URL'})")
    emit(request.json, data, "\n".join(lines))
    return 0


def _promote(request: PromoteRequest) -> int:
    from pipelines.wheels.reversion import rewrite
    from pipelines.wheels.select import plan_promotion

    if request.project is None:
        raise InputError("the catalog has more than one wheel project", hint="pass --project PROJECT")
    project = get_wheel_project(request.project)
    release = parse_release(request.version)
    sources = {p.name: p for p in _source_files(request.source_dir)}
    plan = plan_promotion(project, release, sources)
    files = []
    with _staged(request.to) as staging:
        for rename in plan.renames:
            source = sources[rename.source.filename]
            progress(f"re-versioning {rename.source.filename} -> {rename.target.filename}")
            report = rewrite(source, staging, rename.source, rename.target)
            target = staging / rename.target.filename
            files.append(
                {
                    **_file_entry(target, file_sha256(target)),
                    "kind": rename.kind.value,
                    "source": _file_entry(source, file_sha256(source)),
                    **report.to_dict(),
                }
            )
    data = {
        "project": project.name,
        "version": plan.to_version,
        "from_version": plan.from_version,
        "rc": plan.rc,
        "to": str(request.to),
        "files": files,
    }
    lines = [f"promoted {project.name} {plan.from_version} -> {plan.to_version} into {request.to}"]
    for f in files:
        lines.append(f"  {f['filename']}  sha256:{f['sha256']}  {f['size']} bytes")
        lines.append(
            f"    {f['unchanged_members']} members byte for byte from {f['source']['filename']};"
            f" rewrote {', '.join(m.rsplit('/', 1)[-1] for m in f['rewritten_members'])}"
        )
    emit(request.json, data, "\n".join(lines))
    return 0


def register(subcommands: Any) -> None:
    group = add_group(subcommands, "wheels", summary="find the tested RC wheels and re-version them for release")
    find = add_command(
        group,
        "find-rc",
        summary="download the newest complete X.Y.ZrcN set of a wheel project",
        description="Find the newest X.Y.ZrcN of PROJECT with a complete set of files (a wheel for every\n"
        "platform of the catalog, and the sdist) and copy it into --to: from a package index's simple API\n"
        "(PEP 691 JSON when offered, else PEP 503 HTML; every download checked against the index's\n"
        "sha256; yanked files never chosen), or from a folder of files (--from). An incomplete newer RC\n"
        "is skipped and reported. --to must not exist or be empty; it appears only when every file is in.\n"
        "In a git checkout the chosen RC's tag must be on the release tag's commit (exit 1 otherwise,\n"
        "unless --allow-commit-mismatch): what is released is what was built and tested there.\n"
        "Exit 1 when no RC is complete, a download fails or a hash differs; 2 for bad input.",
        request=FindRcRequest,
        run=_find_rc,
        examples="  python -m pipelines wheels find-rc percolate-rocks 0.2.0 --to dist/rc\n"
        "  python -m pipelines wheels find-rc percolate-rocks 0.2.0 --from downloads/ --to dist/rc --json",
    )
    find.add_argument("project", metavar="PROJECT", help="a catalog project that ships wheels")
    find.add_argument("version", metavar="X.Y.Z", help="the final version whose release candidates to search")
    source = find.add_mutually_exclusive_group()
    source.add_argument(
        "--index",
        default=TESTPYPI.simple_url,
        metavar="URL",
        help=f"a simple-API index (default: {TESTPYPI.simple_url})",
    )
    source.add_argument("--from", dest="source_dir", type=Path, metavar="DIR", help="a folder of RC files instead")
    find.add_argument("--to", type=Path, required=True, metavar="DIR", help="where to put the chosen files")
    find.add_argument(
        "--allow-commit-mismatch",
        action="store_true",
        help="take the RC even when its tag's commit is not the release tag's (or either tag is not in the checkout)",
    )
    add_staging_options(find)
    add_root_option(find)
    register_staging_record(group)
    register_check_unpublished(group)

    promote = add_command(
        group,
        "promote",
        summary="re-version one complete RC set to the final version without rebuilding",
        description="Write each file of --from at --version into --to. A wheel keeps every member byte for byte\n"
        "except METADATA (its Version header) and RECORD (the rows that changed, recomputed); its\n"
        ".dist-info and .data folders and its file name take the final version. An sdist keeps every\n"
        "member except PKG-INFO and pyproject.toml's [project].version. Each input's RECORD is checked\n"
        "against its contents first, and each output is read back and compared member by member.\n"
        "Refused: files that are not exactly one rc of --version, files of another project, a set that\n"
        "lacks a platform or the sdist, a wheel whose RECORD does not match. --json lists each promoted\n"
        "file with its sha256 and size, for the GitHub release and attestations.",
        request=PromoteRequest,
        run=_promote,
        examples="  python -m pipelines wheels promote --from dist/rc --to dist/release --version 0.2.0\n"
        "  python -m pipelines wheels promote --from dist/rc --to dist/release --version 0.2.0 --json",
    )
    promote.add_argument("--from", dest="source_dir", type=Path, required=True, metavar="DIR", help="the RC's files")
    promote.add_argument("--to", type=Path, required=True, metavar="DIR", help="where to write the release files")
    promote.add_argument("--version", required=True, metavar="X.Y.Z", help="the final version, e.g. 0.2.0")
    promote.add_argument(
        "--project",
        default=_default_wheel_project(),
        metavar="PROJECT",
        help=f"the wheel project (default: {_default_wheel_project()})",
    )
