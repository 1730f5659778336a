"""`deploy-pr`: the branch `deploy/PROJECT-vVERSION` on the newest main with a release's digests, and its pull
request, both with PERCOLATE_GIT_PAT: never with GITHUB_TOKEN, whose pull requests start no workflow. A token
that is missing, or that git or GitHub refuses (invalid, expired, short of a right), stops it with the fix."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, add_root_option
from pipelines.commands.checkout import resolve_root
from pipelines.commands.stack_config import read_promotion
from pipelines.core.catalog import STACK_CONFIG_FILE, Project, get_image_project
from pipelines.core.errors import InputError, Unauthorized
from pipelines.deploy.rules import apply_release, deploy_pull_request, previous_release_tag
from pipelines.deploy.write_back import StackFile
from pipelines.edges.git import Git
from pipelines.edges.github import PAT_FIX, GitHub, pat_from_environment
from pipelines.output import emit, progress


@dataclass(frozen=True)
class DeployPrRequest:
    project: str
    version: str
    promotion: Path
    remote: str
    base: str
    dry_run: bool
    root: Path | None
    json: bool


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


def _deploy_pr(request: DeployPrRequest) -> int:
    project = get_image_project(request.project)
    release = read_promotion(request.promotion)
    if (release.project, release.version) != (project.name, request.version):
        raise InputError(
            f"the promotion record is of {release.project} {release.version}, not {project.name} {request.version}",
            hint="pass the record that `promote` wrote for this release",
        )
    token = pat_from_environment(required=not request.dry_run)
    git = Git(resolve_root(request.root))
    progress(f"fetching {request.remote}/{request.base}")
    with _refusals_name_the_fix():
        git.fetch(
            request.remote, f"+refs/heads/{request.base}:refs/remotes/{request.remote}/{request.base}", token=token
        )
    changelog, previous = _changelog(git, project, request.version)

    # The branch is always rebuilt on the newest base in a throwaway worktree: the checkout stays as it was.
    workdir = Path(tempfile.mkdtemp(prefix="deploy-pr-"))
    try:
        base = git.add_worktree(workdir / "base", f"refs/remotes/{request.remote}/{request.base}")
        stack = StackFile(base.root / STACK_CONFIG_FILE)
        pin = apply_release(stack.pin(project.name), release)
        proposal = deploy_pull_request(pin, changelog, previous)
        changed = stack.write_pin(pin, dry_run=request.dry_run)
        result: dict[str, Any] = {
            "project": project.name,
            "version": request.version,
            "branch": proposal.branch,
            "changed": changed,
            "dry_run": request.dry_run,
            "title": proposal.title,
            "body": proposal.body,
        }
        if not changed:
            message = (
                f"{request.remote}/{request.base} already deploys {project.name} {request.version}; "
                "no pull request needed"
            )
            emit(request.json, result, message)
            return 0
        if request.dry_run:
            emit(request.json, result, f'would push {proposal.branch} and open "{proposal.title}":\n\n{proposal.body}')
            return 0
        result["commit"] = base.commit_file(STACK_CONFIG_FILE, proposal.commit_message, proposal.branch)
        progress(f"pushing {proposal.branch} (rebuilt on the newest {request.base})")
        with _refusals_name_the_fix():
            base.push(request.remote, proposal.branch, token=token)
    finally:
        git.remove_worktree(workdir / "base")
        shutil.rmtree(workdir, ignore_errors=True)

    assert token is not None  # required unless a dry run, which returned above
    with GitHub.from_environment(token) as github:
        existing = github.open_pull(proposal.branch, request.base)
        if existing:
            pull, action = github.update_pull(existing["number"], title=proposal.title, body=proposal.body), "updated"
        else:
            pull = github.create_pull(
                branch=proposal.branch, base=request.base, title=proposal.title, body=proposal.body
            )
            action = "opened"
    result["pull_request"] = {"number": pull["number"], "url": pull.get("html_url"), "action": action}
    emit(
        request.json,
        result,
        f"{action} pull request #{pull['number']}: {proposal.title}\n{pull.get('html_url', '')}".rstrip(),
    )
    return 0


def register(subcommands: Any) -> None:
    deploy_pr = add_command(
        subcommands,
        "deploy-pr",
        summary="open (or refresh) the pull request that deploys a release",
        request=DeployPrRequest,
        run=_deploy_pr,
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
