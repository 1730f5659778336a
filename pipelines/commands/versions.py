"""`versions show`, `versions check`, `versions bump` and `versions set-rc`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command, add_group, add_root_option
from pipelines.commands.checkout import resolve_root
from pipelines.core.catalog import PROJECTS, Project, get_project
from pipelines.core.errors import CheckFailed, InputError
from pipelines.core.tags import parse_tag
from pipelines.core.version_check import VersionCheck, check_versions
from pipelines.core.versions import parse_version
from pipelines.edges.project_files import FileChange, VersionFiles
from pipelines.output import emit, report_error

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class ReadRequest:
    """`versions show` and `versions check`."""

    tag: str | None
    root: Path | None
    json: bool


@dataclass(frozen=True)
class BumpRequest:
    project: str
    version: str
    dry_run: bool
    root: Path | None
    json: bool


@dataclass(frozen=True)
class SetRcRequest:
    tag: str
    dry_run: bool
    root: Path | None
    json: bool


def _selected_checks(request: ReadRequest) -> list[VersionCheck]:
    """One check per project, or only the tag's project (against the tag's version) with --tag."""
    files = VersionFiles(resolve_root(request.root))
    if request.tag:
        tag = parse_tag(request.tag)
        project = get_project(tag.project)
        return [check_versions(project.name, files.read(project), expected=tag.version)]
    return [check_versions(project.name, files.read(project)) for project in PROJECTS]


def _describe(check: VersionCheck) -> str:
    lines = [f"{check.project}: {check.version or '?'}" + ("" if check.ok else "  (files disagree)")]
    width = max(len(f"{r.path} ({r.key})") for r in check.readings)
    for reading in check.readings:
        where = f"{reading.path} ({reading.key})".ljust(width)
        lines.append(f"  {where}  {reading.raw or '-'}" + (f"  <- {reading.problem}" if reading.problem else ""))
    return "\n".join(lines)


def _show(request: ReadRequest) -> int:
    checks = _selected_checks(request)
    emit(request.json, [check.to_dict() for check in checks], "\n".join(_describe(check) for check in checks))
    return 0


def _check(request: ReadRequest) -> int:
    checks = _selected_checks(request)
    if request.json:
        emit(True, {"ok": all(c.ok for c in checks), "checks": [c.to_dict() for c in checks]}, "")
    for check in checks:
        try:
            check.raise_for_problems()
        except CheckFailed as error:
            report_error(error, as_json=False)
        else:
            if not request.json:
                against = f" and equals the tag's {check.expected}" if check.expected else ""
                print(f"ok: {check.project} {check.version}: every version file agrees{against}")
    return 0 if all(c.ok for c in checks) else 1


def _report_changes(
    request: BumpRequest | SetRcRequest, data: dict[str, Any], what: str, changes: list[FileChange]
) -> int:
    """Print the file changes of a bump or set-rc: `data` plus dry_run and files as JSON, or one line each."""
    lines = [
        f"{change.path} ({change.key}): {change.old} -> {change.new}"
        if change.old != change.new
        else f"{change.path} ({change.key}): already {change.new}"
        for change in changes
    ]
    data = {**data, "dry_run": request.dry_run, "files": [vars(change) for change in changes]}
    verb = "would set" if request.dry_run else "set"
    emit(request.json, data, f"{verb} {what}:\n  " + "\n  ".join(lines))
    return 0


def _bump(request: BumpRequest) -> int:
    project: Project = get_project(request.project)
    version = parse_version(request.version)
    changes = VersionFiles(resolve_root(request.root)).bump(project, version, dry_run=request.dry_run)
    data = {"project": project.name, "version": version.pep440()}
    return _report_changes(request, data, f"{project.name} to {version}", changes)


def _set_rc(request: SetRcRequest) -> int:
    tag = parse_tag(request.tag)
    if tag.rc is None:
        raise InputError(
            f"{tag.name} is a release tag; set-rc prepares the build of a release candidate",
            hint=f"pass an RC tag, e.g. {tag.name}-rc1",
        )
    project = get_project(tag.project)
    pyprojects = [path for path in project.version_files if PurePosixPath(path).name == "pyproject.toml"]
    if not pyprojects:
        raise InputError(f"{project.name} has no pyproject.toml version file", hint="set-rc is for Python packages")
    target = tag.package_version
    files = VersionFiles(resolve_root(request.root))
    # Re-running on a workspace already set to this RC is fine; any other disagreement is not.
    pending = [
        reading for reading in files.read(project) if not (reading.path in pyprojects and reading.version == target)
    ]
    check_versions(project.name, pending, expected=tag.version).raise_for_problems()
    changes = [files.set_pyproject_version(path, target, dry_run=request.dry_run) for path in pyprojects]
    data = {"project": project.name, "tag": tag.name, "version": target.pep440()}
    return _report_changes(request, data, f"{project.name}'s package version to {target} for the RC build", changes)


def register(subcommands: Any) -> None:
    group = add_group(subcommands, "versions", summary="read, check and bump the projects' version files")
    show = add_command(
        group,
        "show",
        summary="print every project's version files and what they say",
        description="Print the version of record of each project and every file that carries it\n"
        "(percolate-rocks: Cargo.toml, pyproject.toml and Cargo.lock's own entry when present).",
        request=ReadRequest,
        run=_show,
        examples="  python -m pipelines versions show\n"
        "  python -m pipelines versions show --tag percolate-v0.1.0 --json",
    )
    check = add_command(
        group,
        "check",
        summary="check that version files agree (and equal a tag's version)",
        description="Exit 0 when every project's version files agree; with --tag, when the tag's project's\n"
        "files also equal the tag's version (an RC tag X.Y.Z-rcN expects X.Y.Z in the files).\n"
        "Exit 1 naming each disagreement and the command that fixes it.",
        request=ReadRequest,
        run=_check,
        examples="  python -m pipelines versions check\n"
        "  python -m pipelines versions check --tag percolate-rocks-v0.2.0-rc1",
    )
    for parser in (show, check):
        parser.add_argument("--tag", metavar="TAG", help="only the tag's project, checked against the tag's version")
        add_root_option(parser)

    bump = add_command(
        group,
        "bump",
        summary="set a project's version in every one of its version files",
        description="Set VERSION in every version file of PROJECT in one step (percolate-rocks: Cargo.toml,\n"
        "pyproject.toml and Cargo.lock's own entry). VERSION may be spelt the PEP 440 way (0.2.0rc1)\n"
        "or the Cargo way (0.2.0-rc.1); each file gets its own spelling. Only the version value\n"
        "changes: comments, key order, quoting and every other byte stay. Nothing is written unless\n"
        "every file could be updated.",
        request=BumpRequest,
        run=_bump,
        examples="  python -m pipelines versions bump percolate-rocks 0.3.0\n"
        "  python -m pipelines versions bump percolate 1.0.0 --dry-run",
    )
    bump.add_argument("project", metavar="PROJECT", help="a catalog project")
    bump.add_argument("version", metavar="VERSION", help="the new version, e.g. 0.3.0")
    bump.add_argument("--dry-run", action="store_true", help="print what would change and write nothing")
    add_root_option(bump)

    set_rc = add_command(
        group,
        "set-rc",
        summary="set only pyproject.toml to X.Y.ZrcN for an RC build (wheels carry the rc version)",
        description="For the build of RC tag PROJECT-vX.Y.Z-rcN: check that every version file of the project\n"
        "says X.Y.Z, then set only its pyproject.toml [project].version to X.Y.ZrcN in the build\n"
        "workspace (never committed). The wheels are then published as X.Y.ZrcN while everything\n"
        "compiled (percolate-rocks: Cargo.toml) already carries X.Y.Z, so `wheels promote` can\n"
        "release the same binaries as X.Y.Z. Refuses a release tag; exit 1 when the files do not\n"
        "say X.Y.Z. Re-running on a workspace already set to X.Y.ZrcN changes nothing.",
        request=SetRcRequest,
        run=_set_rc,
        examples="  python -m pipelines versions set-rc --tag percolate-rocks-v0.2.0-rc3\n"
        '  python -m pipelines versions set-rc --tag "$GITHUB_REF_NAME" --json',
    )
    set_rc.add_argument("--tag", required=True, metavar="TAG", help="the RC tag being built")
    set_rc.add_argument("--dry-run", action="store_true", help="print what would change and write nothing")
    add_root_option(set_rc)
