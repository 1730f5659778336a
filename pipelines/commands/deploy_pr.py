"""`deploy-pr`: the branch `deploy/PROJECT-vVERSION` on the newest main with a release's digests, and its pull
request, both with PERCOLATE_GIT_PAT: never with GITHUB_TOKEN, whose pull requests start no workflow. A token
that is missing, or that git or GitHub refuses (invalid, expired, short of a right), stops it with the fix."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.commands import add_command, add_root_option, resolve_root
from pipelines.commands.stack_config import read_promotion
from pipelines.core.catalog import STACK_CONFIG_FILE, Project, get_image_project
from pipelines.core.errors import InputError, Unauthorized
from pipelines.deploy.rules import apply_release, deploy_pull_request, previous_release_tag
from pipelines.deploy.write_back import StackFile
from pipelines.edges.git import Git
from pipelines.edges.github import PAT_FIX, GitHub, pat_from_environment
from pipelines.output import emit, progress


def _changelog(git: Git, project: Project, version: str) -> tuple[list[str], str | None]:
    """Subjects of the commits that touched the project since its previous release tag, and that tag."""
    tag = f"{project.name}-v{version}"
    previous = previous_release_tag(project.name, version, git.tags())
    until = tag if git.commit_of(f"refs/tags/{tag}") else "HEAD"
    return git.subjects(f"{previous}..{until}" if previous else until, project.directory), previous


@contextmanager
def _refusals_name_the_fix() -> Iterator[None]:
    """A refused token (git's or GitHub's) says how to replace PERCOLATE_GIT_PAT, whoever refused it."""
    try:
        yield
    except Unauthorized as refused:
        raise Unauthorized(refused.message, hint=PAT_FIX) from None


def _deploy_pr(args: argparse.Namespace) -> int:
    project = get_image_project(args.project)
    release = read_promotion(args.promotion)
    if (release.project, release.version) != (project.name, args.version):
        raise InputError(
            f"the promotion record is of {release.project} {release.version}, not {project.name} {args.version}",
            hint="pass the record that `promote` wrote for this release",
        )
    token = pat_from_environment(required=not args.dry_run)
    git = Git(resolve_root(args))
    progress(f"fetching {args.remote}/{args.base}")
    with _refusals_name_the_fix():
        git.fetch(args.remote, f"+refs/heads/{args.base}:refs/remotes/{args.remote}/{args.base}", token=token)
    changelog, previous = _changelog(git, project, args.version)

    # The branch is always rebuilt on the newest base in a throwaway worktree: the checkout stays as it was.
    workdir = Path(tempfile.mkdtemp(prefix="deploy-pr-"))
    try:
        base = git.add_worktree(workdir / "base", f"refs/remotes/{args.remote}/{args.base}")
        stack = StackFile(base.root / STACK_CONFIG_FILE)
        pin = apply_release(stack.pin(project.name), release)
        request = deploy_pull_request(pin, changelog, previous)
        changed = stack.write_pin(pin, dry_run=args.dry_run)
        result: dict[str, Any] = {
            "project": project.name,
            "version": args.version,
            "branch": request.branch,
            "changed": changed,
            "dry_run": args.dry_run,
            "title": request.title,
            "body": request.body,
        }
        if not changed:
            message = f"{args.remote}/{args.base} already deploys {project.name} {args.version}; no pull request needed"
            emit(args.json, result, message)
            return 0
        if args.dry_run:
            emit(args.json, result, f'would push {request.branch} and open "{request.title}":\n\n{request.body}')
            return 0
        result["commit"] = base.commit_file(STACK_CONFIG_FILE, request.commit_message, request.branch)
        progress(f"pushing {request.branch} (rebuilt on the newest {args.base})")
        with _refusals_name_the_fix():
            base.push(args.remote, request.branch, token=token)
    finally:
        git.remove_worktree(workdir / "base")
        shutil.rmtree(workdir, ignore_errors=True)

    assert token is not None  # required unless a dry run, which returned above
    with GitHub.from_environment(token) as github:
        existing = github.open_pull(request.branch, args.base)
        if existing:
            pull, action = github.update_pull(existing["number"], title=request.title, body=request.body), "updated"
        else:
            pull = github.create_pull(branch=request.branch, base=args.base, title=request.title, body=request.body)
            action = "opened"
    result["pull_request"] = {"number": pull["number"], "url": pull.get("html_url"), "action": action}
    emit(
        args.json,
        result,
        f"{action} pull request #{pull['number']}: {request.title}\n{pull.get('html_url', '')}".rstrip(),
    )
    return 0


def register(subcommands: Any) -> None:
    deploy_pr = add_command(
        subcommands,
        "deploy-pr",
        summary="open (or refresh) the pull request that deploys a release",
        handler=_deploy_pr,
        description="Fetch the newest main, write the release's digests into its stack config on branch\n"
        "deploy/PROJECT-vVERSION, commit, force-push the branch and open or update the pull request\n"
        "(version, digests, source RC build, changes since the previous release). Re-running it\n"
        "rebuilds the branch on the newest main, so two releases at once never need a hand-made merge.\n"
        "Token: PERCOLATE_GIT_PAT, required (never GITHUB_TOKEN: a pull request opened with it starts no\n"
        "workflow, so its required check never reports and it can never merge); a missing or refused one\n"
        "exits 1 (unauthorized) naming how to replace it. GITHUB_REPOSITORY and GITHUB_API_URL as Actions\n"
        "sets them. --dry-run needs no PAT (it fetches with your own git credentials when none is set).",
        examples="  python -m pipelines promote percolate-v0.2.0 --json > promote.json\n"
        "  python -m pipelines deploy-pr percolate 0.2.0 --promotion promote.json",
    )
    deploy_pr.add_argument("project", metavar="PROJECT", help="an image project")
    deploy_pr.add_argument("version", metavar="VERSION", help="the released version X.Y.Z")
    deploy_pr.add_argument(
        "--promotion", type=Path, required=True, metavar="FILE", help="the JSON `promote TAG --json` printed"
    )
    deploy_pr.add_argument("--remote", default="origin", help="the git remote (default: origin)")
    deploy_pr.add_argument("--base", default="main", help="the branch deploys merge into (default: main)")
    deploy_pr.add_argument("--dry-run", action="store_true", help="print the pull request; push and open nothing")
    add_root_option(deploy_pr)
