"""`plan TAG`: every step the workflow will take for a tag."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command, add_registry_option, add_root_option, positive_int, timestamp
from pipelines.commands.checkout import resolve_root
from pipelines.commands.environment import environment, now
from pipelines.core.catalog import get_project
from pipelines.core.errors import InputError, RuleRefused
from pipelines.core.tags import ReleaseTag, Stage, parse_tag
from pipelines.core.version_check import check_versions
from pipelines.edges.git import Git
from pipelines.edges.project_files import VersionFiles
from pipelines.output import actions_outputs, emit, progress
from pipelines.plan.steps import Plan, make_plan

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

_HEX_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


@dataclass(frozen=True)
class PlanRequest:
    tag: str
    expect_project: str | None
    expect_stage: str | None
    root: Path | None
    sha: str | None
    run_number: int | None
    at: datetime | None
    registry: str
    json: bool


def describe(plan: Plan) -> str:
    """The plan as people read it."""
    tag = plan.tag
    header = [
        f"plan for {tag.name}",
        f"  project      {tag.project}",
        f"  version      {tag.version.release}"
        + (f" (rc {tag.rc}, packages carry {tag.package_version})" if tag.rc else ""),
        f"  stage        {tag.stage.value}",
        f"  commit       {plan.commit}",
        f"  run number   {plan.run_number}",
        f"  environment  {plan.environment or '- (none)'}",
        f"  versions     {'ok' if plan.version_check.ok else 'FAILED'}",
    ]
    header += [f"    - {problem}" for problem in plan.version_check.problems]
    steps = [f"  {number:>2}. {step.id}: {step.description}" for number, step in enumerate(plan.steps, 1)]
    artifacts = [f"  - {a.kind:<11} {a.platform or '':<17} {a.name}" for a in plan.artifacts]
    return "\n".join([*header, "", "steps:", *steps, "", "produces:", *artifacts])


def _commit(request: PlanRequest, git: Git, tag_name: str) -> str:
    """--sha, else $GITHUB_SHA, else the commit the tag points at, else HEAD."""
    if request.sha is not None and not _HEX_SHA.fullmatch(request.sha):
        from pipelines.core.secrets import redact

        # Redacted before it is cut, as every text a message quotes: a cut never leaves half a secret behind.
        text = redact(request.sha)
        shown = text if len(text) <= 80 else f"{text[:80]}…"
        raise InputError(
            f"--sha {shown!r} is not a hex commit SHA (7 to 64 hex digits)",
            hint="pass the commit's full SHA, e.g. $GITHUB_SHA",
        )
    commit = request.sha or git.commit_of(f"refs/tags/{tag_name}")
    if commit is None:
        commit = git.commit_of("HEAD")
        if commit is None:
            raise InputError(f"cannot find a commit for {tag_name} in {git.root}", hint="pass --sha SHA")
        progress(f"note: tag {tag_name} is not in this checkout; planning for HEAD {commit[:7]}")
    return commit


def _expectations(request: PlanRequest, tag: ReleaseTag) -> None:
    """A workflow states which project and stage it runs; a tag of another is refused before anything runs."""
    if request.expect_project and tag.project != request.expect_project:
        raise RuleRefused(
            f"{tag.name} is a tag of {tag.project}, but this workflow runs {request.expect_project}",
            hint="check the workflow's tag filter: it must match only its own project's tags",
        )
    if request.expect_stage and tag.stage.value != request.expect_stage:
        raise RuleRefused(
            f"{tag.name} starts a {tag.stage.value}, but this workflow runs a {request.expect_stage}",
            hint="RC tags (-rcN) start builds; tags without -rc start releases",
        )


def _outputs(plan: Plan) -> dict[str, str]:
    data = plan.to_dict()
    keys = ("project", "version", "rc", "stage", "package_version", "commit", "environment")
    return {key.replace("_", "-"): "" if data[key] is None else str(data[key]) for key in keys}


def _plan(request: PlanRequest) -> int:
    tag = parse_tag(request.tag)
    _expectations(request, tag)
    project = get_project(tag.project)
    root = resolve_root(request.root)
    check = check_versions(project.name, VersionFiles(root).read(project), expected=tag.version)
    run_number = request.run_number
    if run_number is None:
        run_number = 1
        if tag.stage is Stage.BUILD and project.ships_images:
            progress("note: no --run-number and no $GITHUB_RUN_NUMBER; build tags show run 1")
    plan = make_plan(
        tag,
        check,
        commit=_commit(request, Git(root), tag.name),
        run_number=run_number,
        at=request.at or now(),
        registry=request.registry,
    )
    emit(request.json, plan.to_dict(), describe(plan))
    actions_outputs(_outputs(plan))
    return 0 if check.ok else 1


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "plan",
        summary="every step the workflow will take for a tag",
        description="Print the plan for TAG: stage (build or release), project, version, the version-file\n"
        "check, the GitHub environment, each step, and the artifacts and tags it will produce (CalVer\n"
        "tags per platform for this commit and run number, or the release tags). Exit 1 when the\n"
        "version files do not match the tag (the plan is still printed, with the failed check), or\n"
        "when the tag is not of --expect-project / --expect-stage. In Actions the plan's fields are\n"
        "also step outputs: project, version, rc, stage, package-version, commit, environment.",
        request=PlanRequest,
        run=_plan,
        examples="  python -m pipelines plan percolate-v0.1.0-rc1\n"
        "  python -m pipelines plan percolate-rocks-v0.2.0 --json",
    )
    parser.add_argument("tag", metavar="TAG", help="the pushed tag, e.g. percolate-v0.1.0-rc1")
    parser.add_argument("--expect-project", metavar="PROJECT", help="exit 1 unless TAG is of this project")
    parser.add_argument("--expect-stage", choices=[s.value for s in Stage], help="exit 1 unless TAG starts this stage")
    add_root_option(parser)
    parser.add_argument(
        "--sha",
        default=environment("GITHUB_SHA"),
        metavar="SHA",
        help="the commit (default: $GITHUB_SHA, else the tag's)",
    )
    parser.add_argument(
        "--run-number",
        type=positive_int,
        default=environment("GITHUB_RUN_NUMBER"),
        metavar="N",
        help="the Actions run number (default: $GITHUB_RUN_NUMBER)",
    )
    parser.add_argument("--at", type=timestamp, metavar="ISO8601", help="the build time (default: now)")
    add_registry_option(parser)
