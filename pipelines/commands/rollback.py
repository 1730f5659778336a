"""`rollback`: the previous release's digests back from the stack file's git history; the failed version blocked."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command
from pipelines.commands.stack_config import add_stack_option, describe_pin, pin_fields, stack_file_of
from pipelines.core.catalog import get_image_project
from pipelines.core.errors import InputError, RuleRefused
from pipelines.deploy.pins import IMAGES_KEY, ImagePin
from pipelines.deploy.rules import choose_rollback
from pipelines.deploy.write_back import StackFile
from pipelines.edges.git import Git
from pipelines.edges.git_history import GitHistory
from pipelines.output import emit, progress

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class RollbackRequest:
    project: str
    to: str | None
    dry_run: bool
    stack_config: Path | None
    root: Path | None
    json: bool


def _rollback(request: RollbackRequest) -> int:
    name = get_image_project(request.project).name
    stack = stack_file_of(request.stack_config, request.root)
    with nullcontext() if request.dry_run else stack.locked():  # read, change and write as one
        return _roll_back(request, name, stack)


def _roll_back(request: RollbackRequest, name: str, stack: StackFile) -> int:
    current = stack.pin(name)
    if current is None:
        raise RuleRefused(f"{stack.path} has no {IMAGES_KEY}.{name}", hint="nothing is deployed to roll back")
    git = Git.toplevel(stack.path.resolve().parent)
    relative = stack.path.resolve().relative_to(git.root.resolve()).as_posix()
    history = []
    for version in reversed(GitHistory(git.root).file_versions(relative)):  # newest first
        if version.deleted:  # a commit that deleted the file has no version of it
            continue
        if version.text is None:
            progress(f"note: skipping {relative} at {version.commit[:7]}: it is not UTF-8 text")
            continue
        try:
            pin = stack.pins_from_text(version.text).get(name)
        except InputError:
            progress(f"note: skipping {relative} at {version.commit[:7]}: it does not parse")
            continue
        # A file without the project's entry says it was not released (the images subtree's contract).
        history.append(pin if pin is not None else ImagePin(name, current.repository))
    restored = choose_rollback(current, history, request.to)
    stack.write_pin(restored, dry_run=request.dry_run)
    data = {
        "file": str(stack.path),
        "dry_run": request.dry_run,
        "from_version": current.version,
        **pin_fields(restored),
    }
    verb = "would roll back" if request.dry_run else "rolled back"
    to = restored.version if restored.pinned else "not released (its Application runs the manifests' own image)"
    emit(
        request.json,
        data,
        f"{verb} {name} {current.version} -> {to} in {stack.path}; "
        f"{current.version} is now blocked\n{describe_pin(restored)}",
    )
    return 0


def register(subcommands: Any) -> None:
    rollback = add_command(
        subcommands,
        "rollback",
        summary="restore the previous release's images and block the failed version",
        request=RollbackRequest,
        run=_rollback,
        description=f"Restore {IMAGES_KEY}.PROJECT from the git history of the stack config: the newest\n"
        "earlier release that is not blocked (or --to VERSION), and add the current version to the\n"
        "entry's `blocked` list so that automation never deploys it again until a person clears it.\n"
        "A first release goes back to not released (the entry's repository only, the version blocked):\n"
        "its Application runs the manifests' own image again, as before the release.\n"
        "Exit 1 when there is nothing to roll back to. deploy.yml runs it when the health gate fails.",
        examples="  python -m pipelines rollback percolate\n"
        "  python -m pipelines rollback percolate-reading --to 0.1.0 --json",
    )
    rollback.add_argument("project", metavar="PROJECT", help="an image project")
    rollback.add_argument("--to", metavar="VERSION", help="the version to restore (default: the previous release)")
    rollback.add_argument("--dry-run", action="store_true", help="print what would be restored; write nothing")
    add_stack_option(rollback)
