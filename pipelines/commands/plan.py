"""`plan TAG`: every step the workflow will take for a tag."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.catalog import get_project
from pipelines.commands import (
    add_command,
    add_registry_option,
    add_root_option,
    environment,
    now,
    positive_int,
    resolve_root,
    timestamp,
)
from pipelines.errors import InputError
from pipelines.git import Git
from pipelines.output import emit, progress
from pipelines.plan import Plan, make_plan
from pipelines.tags import Stage, parse_tag
from pipelines.versionfiles import VersionFiles
from pipelines.versions import check_versions


def describe(plan: Plan) -> str:
    """The plan as people read it."""
    tag = plan.tag
    header = [
        f"plan for {tag.name}",
        f"  project      {tag.project}",
        f"  version      {tag.version.release}" + (f" (rc {tag.rc}, packages carry {tag.package_version})" if tag.rc else ""),
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


def _commit(args: argparse.Namespace, git: Git, tag_name: str) -> str:
    """--sha, else $GITHUB_SHA, else the commit the tag points at, else HEAD."""
    commit = args.sha or git.commit_of(f"refs/tags/{tag_name}")
    if commit is None:
        commit = git.commit_of("HEAD")
        if commit is None:
            raise InputError(f"cannot find a commit for {tag_name} in {git.root}", hint="pass --sha SHA")
        progress(f"note: tag {tag_name} is not in this checkout; planning for HEAD {commit[:7]}")
    return commit


def _plan(args: argparse.Namespace) -> int:
    tag = parse_tag(args.tag)
    project = get_project(tag.project)
    root = resolve_root(args)
    check = check_versions(project.name, VersionFiles(root).read(project), expected=tag.version)
    run_number = args.run_number
    if run_number is None:
        run_number = 1
        if tag.stage is Stage.BUILD and project.ships_images:
            progress("note: no --run-number and no $GITHUB_RUN_NUMBER; build tags show run 1")
    plan = make_plan(
        tag,
        check,
        commit=_commit(args, Git(root), tag.name),
        run_number=run_number,
        at=args.at or now(),
        registry=args.registry,
    )
    emit(args.json, plan.to_dict(), describe(plan))
    return 0 if check.ok else 1


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "plan",
        summary="every step the workflow will take for a tag",
        description="Print the plan for TAG: stage (build or release), project, version, the version-file\n"
        "check, the GitHub environment, each step, and the artifacts and tags it will produce (CalVer\n"
        "tags per platform for this commit and run number, or the release tags). Exit 1 when the\n"
        "version files do not match the tag (the plan is still printed, with the failed check).",
        handler=_plan,
        examples="  python -m pipelines plan percolate-v0.1.0-rc1\n"
        "  python -m pipelines plan percolate-rocks-v0.2.0 --json",
    )
    parser.add_argument("tag", metavar="TAG", help="the pushed tag, e.g. percolate-v0.1.0-rc1")
    add_root_option(parser)
    parser.add_argument(
        "--sha", default=environment("GITHUB_SHA"), metavar="SHA", help="the commit (default: $GITHUB_SHA, else the tag's)"
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
