"""The deployment stage: `stack-config show|set-image`, `deploy-pr` and `rollback`."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pipelines.commands import add_command, add_group, add_root_option, resolve_root
from pipelines.core.catalog import STACK_CONFIG_FILE, Project, get_image_project
from pipelines.core.errors import CheckFailed, InputError
from pipelines.deploy.pins import IMAGES_KEY, ImagePin, parse_image_pin
from pipelines.deploy.rules import (
    apply_release,
    choose_rollback,
    deploy_pull_request,
    previous_release_tag,
    release_pin,
)
from pipelines.deploy.stack_file import StackFile
from pipelines.edges.files import read_json_object
from pipelines.edges.git import Git
from pipelines.edges.github import GitHub, token_from_environment
from pipelines.output import emit, progress


def _stack_file(args: argparse.Namespace) -> StackFile:
    """--stack-config FILE, else Pulumi.prod.yaml at the monorepo's root."""
    return StackFile(args.stack_config if args.stack_config else resolve_root(args) / STACK_CONFIG_FILE)


def _read_promotion(path: Path) -> ImagePin:
    return release_pin(read_json_object(path, "promotion record", "python -m pipelines promote TAG --json"))


def _pin_fields(pin: ImagePin) -> dict[str, Any]:
    return {"project": pin.project, **pin.to_dict()}


def _describe_pin(pin: ImagePin) -> str:
    if not pin.pinned:
        return f"{pin.project}: {pin.repository} (not released yet)" + (
            f", blocked {', '.join(pin.blocked)}" if pin.blocked else ""
        )
    lines = [f"{pin.project} {pin.version}: {pin.reference}", f"  source  {pin.source}"]
    lines += [f"  {arch:<7} {digest}" for arch, digest in pin.platforms]
    if pin.blocked:
        lines.append(f"  blocked {', '.join(pin.blocked)}")
    return "\n".join(lines)


def _show(args: argparse.Namespace) -> int:
    pins = _stack_file(args).images()
    emit(args.json, [_pin_fields(pin) for pin in pins.values()], "\n".join(_describe_pin(p) for p in pins.values()))
    return 0


def _requested_pin(args: argparse.Namespace, project: Project) -> ImagePin:
    """The pin `set-image` was asked for: from a promotion record, or spelt out in options."""
    if args.promotion:
        pin = _read_promotion(args.promotion)
        if pin.project != project.name:
            raise InputError(
                f"the promotion record is of {pin.project}, not {project.name}", hint="pass the right record"
            )
        return pin
    missing = [
        option
        for option, value in (
            ("--version", args.version),
            ("--digest", args.digest),
            ("--platform", args.platform),
            ("--source", args.source),
        )
        if not value
    ]
    if missing:
        raise InputError(f"missing {', '.join(missing)}", hint="pass --promotion FILE, or every one of those options")
    platforms = {}
    for item in args.platform:
        arch, separator, digest = item.partition("=")
        if not separator:
            raise InputError(f"--platform {item!r} is not ARCH=DIGEST", hint="e.g. --platform amd64=sha256:…")
        platforms[arch] = digest
    entry = {
        "repository": args.repository or project.image_repository(),
        "version": args.version,
        "digest": args.digest,
        "platforms": platforms,
        "source": args.source,
    }
    return parse_image_pin(project.name, entry, key="options")


def _set_image(args: argparse.Namespace) -> int:
    project = get_image_project(args.project)
    stack = _stack_file(args)
    pin = apply_release(stack.pin(project.name), _requested_pin(args, project))
    changed = stack.write_pin(pin, dry_run=args.dry_run)
    verb = ("would write" if args.dry_run else "wrote") if changed else "unchanged:"
    emit(
        args.json,
        {"file": str(stack.path), "changed": changed, "dry_run": args.dry_run, **_pin_fields(pin)},
        f"{verb} {IMAGES_KEY}.{pin.project} in {stack.path}\n{_describe_pin(pin)}",
    )
    return 0


def _changelog(git: Git, project: Project, version: str) -> tuple[list[str], str | None]:
    """Subjects of the commits that touched the project since its previous release tag, and that tag."""
    tag = f"{project.name}-v{version}"
    previous = previous_release_tag(project.name, version, git.tags())
    until = tag if git.commit_of(f"refs/tags/{tag}") else "HEAD"
    return git.subjects(f"{previous}..{until}" if previous else until, project.directory), previous


def _deploy_pr(args: argparse.Namespace) -> int:
    project = get_image_project(args.project)
    release = _read_promotion(args.promotion)
    if (release.project, release.version) != (project.name, args.version):
        raise InputError(
            f"the promotion record is of {release.project} {release.version}, not {project.name} {args.version}",
            hint="pass the record that `promote` wrote for this release",
        )
    git = Git(resolve_root(args))
    token = token_from_environment()
    progress(f"fetching {args.remote}/{args.base}")
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
        base.push(args.remote, request.branch, token=token)
    finally:
        git.remove_worktree(workdir / "base")
        shutil.rmtree(workdir, ignore_errors=True)

    github = GitHub.from_environment()
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


def _rollback(args: argparse.Namespace) -> int:
    name = get_image_project(args.project).name
    stack = _stack_file(args)
    current = stack.pin(name)
    if current is None:
        raise CheckFailed(f"{stack.path} has no {IMAGES_KEY}.{name}", hint="nothing is deployed to roll back")
    git = Git.toplevel(stack.path.resolve().parent)
    relative = stack.path.resolve().relative_to(git.root.resolve()).as_posix()
    history = []
    for commit, text in git.file_history(relative):
        try:
            pin = stack.pins_from_text(text).get(name)
        except InputError:
            progress(f"note: skipping {relative} at {commit[:7]}: it does not parse")
            continue
        if pin is not None:
            history.append(pin)
    restored = choose_rollback(current, history, args.to)
    stack.write_pin(restored, dry_run=args.dry_run)
    data = {"file": str(stack.path), "dry_run": args.dry_run, "from_version": current.version, **_pin_fields(restored)}
    verb = "would roll back" if args.dry_run else "rolled back"
    emit(
        args.json,
        data,
        f"{verb} {name} {current.version} -> {restored.version} in {stack.path}; "
        f"{current.version} is now blocked\n{_describe_pin(restored)}",
    )
    return 0


def _stack_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack-config",
        type=Path,
        metavar="FILE",
        help=f"the stack config file (default: {STACK_CONFIG_FILE} at the monorepo's root)",
    )
    add_root_option(parser)


def register(subcommands: Any) -> None:
    group = add_group(subcommands, "stack-config", summary="read and write the images subtree of the stack config")
    show = add_command(
        group,
        "show",
        summary="print the images the stack config pins",
        handler=_show,
        description=f"Print {IMAGES_KEY} of the stack config: per image project its version, index digest,\n"
        "platform digests, source RC build and blocked versions, validated against the contract.",
        examples="  python -m pipelines stack-config show --json",
    )
    _stack_option(show)
    set_image = add_command(
        group,
        "set-image",
        summary="write one project's image pin (only that entry changes)",
        handler=_set_image,
        description=f"Write {IMAGES_KEY}.PROJECT in the stack config. Only that entry changes: every other\n"
        "byte of the file, comments included, stays. The write is atomic, read back and validated.\n"
        "A version listed in the entry's `blocked` is refused (exit 1) until a person removes it.",
        examples="  python -m pipelines stack-config set-image percolate --promotion promote.json\n"
        "  python -m pipelines stack-config set-image percolate --version 0.2.0 --digest sha256:… \\\n"
        "      --platform amd64=sha256:… --platform arm64=sha256:… --source 2025.10.25.1430-build.123-v0.2.0-abc1234",
    )
    set_image.add_argument("project", metavar="PROJECT", help="an image project")
    set_image.add_argument("--promotion", type=Path, metavar="FILE", help="the JSON `promote TAG --json` printed")
    set_image.add_argument("--version", help="the released version X.Y.Z")
    set_image.add_argument("--digest", help="the multi-arch index digest")
    set_image.add_argument(
        "--platform", action="append", metavar="ARCH=DIGEST", help="a platform manifest digest (repeat)"
    )
    set_image.add_argument("--source", help="the promoted RC build (CalVer tag without -ARCH)")
    set_image.add_argument("--repository", help="the image repository (default: the catalog's under ghcr.io)")
    set_image.add_argument("--dry-run", action="store_true", help="validate and print; write nothing")
    _stack_option(set_image)

    deploy_pr = add_command(
        subcommands,
        "deploy-pr",
        summary="open (or refresh) the pull request that deploys a release",
        handler=_deploy_pr,
        description="Fetch the newest main, write the release's digests into its stack config on branch\n"
        "deploy/PROJECT-vVERSION, commit, force-push the branch and open or update the pull request\n"
        "(version, digests, source RC build, changes since the previous release). Re-running it\n"
        "rebuilds the branch on the newest main, so two releases at once never need a hand-made merge.\n"
        "Token: PERCOLATE_GIT_PAT (else GITHUB_TOKEN, whose pull requests start no workflows);\n"
        "GITHUB_REPOSITORY and GITHUB_API_URL as Actions sets them.",
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

    rollback = add_command(
        subcommands,
        "rollback",
        summary="restore the previous release's images and block the failed version",
        handler=_rollback,
        description=f"Restore {IMAGES_KEY}.PROJECT from the git history of the stack config: the newest\n"
        "earlier release that is not blocked (or --to VERSION), and add the current version to the\n"
        "entry's `blocked` list so that automation never deploys it again until a person clears it.\n"
        "Exit 1 when there is nothing to roll back to. deploy.yml runs it when the health gate fails.",
        examples="  python -m pipelines rollback percolate\n  python -m pipelines rollback percolate-reading --to 0.1.0 --json",
    )
    rollback.add_argument("project", metavar="PROJECT", help="an image project")
    rollback.add_argument("--to", metavar="VERSION", help="the version to restore (default: the previous release)")
    rollback.add_argument("--dry-run", action="store_true", help="print what would be restored; write nothing")
    _stack_option(rollback)
