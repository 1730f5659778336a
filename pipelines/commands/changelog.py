"""`changelog TAG`: the release notes of one project's tag, from git (Markdown, or --json with the same structure)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, add_root_option, path_argument
from pipelines.commands.checkout import resolve_root
from pipelines.core.catalog import GITHUB_REPOSITORY
from pipelines.core.errors import InputError, NotFound, RuleRefused
from pipelines.core.names import GITHUB_SLUG
from pipelines.output import emit


@dataclass(frozen=True)
class ChangelogRequest:
    tag: str
    root: Path | None
    repository: str | None
    promotion: Path | None
    json: bool


def repository_argument(text: str) -> str:
    if not GITHUB_SLUG.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not OWNER/NAME (e.g. {GITHUB_REPOSITORY})")
    return text


def _changelog(request: ChangelogRequest) -> int:
    from pipelines.core.tags import parse_tag
    from pipelines.edges.git import Git
    from pipelines.notes.commits import RawCommit, parse_commit
    from pipelines.notes.groups import group
    from pipelines.notes.render import ReleaseNotes, as_data, markdown
    from pipelines.notes.span import span_of
    from pipelines.notes.verification import verification_of

    parse_tag(request.tag)  # a malformed tag is the user's mistake (exit 2) before git is asked anything
    repository = request.repository or _repository_from_environment()
    record = None
    if request.promotion is not None:
        from pipelines.edges.files import read_json_object  # json, hashlib, tempfile: only when a record is read

        record = read_json_object(request.promotion, "promotion record", "python -m pipelines promote TAG --json")
    # Any folder of the checkout will do (paths are read from the top level): no process to find the top.
    git = Git(resolve_root(request.root) if request.root is not None else Path.cwd())
    tags = git.tags()
    if git.is_shallow():  # its grafted oldest commit would count as touching every path: wrong notes
        import shlex

        raise RuleRefused(
            f"the checkout at {git.root} is a shallow clone: the notes need the full history",
            hint=f"run `git -C {shlex.quote(str(git.root))} fetch --unshallow --tags` "
            "(in GitHub Actions: actions/checkout with fetch-depth: 0)",
        )
    span = span_of(request.tag, tags)
    if span.tag.name not in tags:
        raise NotFound(
            f"tag {span.tag.name} is not in the repository at {git.root}",
            hint="fetch the tags and the full history (actions/checkout with fetch-depth: 0), or push the tag",
        )
    commits = [parse_commit(RawCommit(*fields)) for fields in git.log(span.revisions, span.paths)]
    commit = git.commit_of(f"refs/tags/{span.tag.name}") or ""  # the tag is there: checked above
    notes = ReleaseNotes(span, repository, group(commits), verification_of(span.tag, repository, record, commit))
    emit(request.json, as_data(notes), markdown(notes).rstrip("\n"))
    return 0


def _repository_from_environment() -> str:
    value = os.environ.get("GITHUB_REPOSITORY")
    if not value:
        return GITHUB_REPOSITORY
    if not GITHUB_SLUG.fullmatch(value):
        raise InputError(f"GITHUB_REPOSITORY {value[:100]!r} is not OWNER/NAME", hint="unset it, or pass --repository")
    return value


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "changelog",
        summary="the release notes of a tag (Markdown)",
        request=ChangelogRequest,
        run=_changelog,
        description="The release notes of TAG: the commits that touched the project's folders since the\n"
        "previous release of the same project (for an RC: since the previous RC or release), grouped by\n"
        "Conventional Commit type, breaking changes first, with pull request, commit and author links.\n"
        "A release tag's notes end with the commands that verify its images or files; --promotion gives\n"
        "them the digests or files the release job promoted. Merge commits and chore(release) commits are\n"
        "left out, and so is a change reverted within the range, with its revert.\n"
        "The checkout needs the full history and the tags (actions/checkout: fetch-depth: 0): a shallow\n"
        "clone is refused (exit 1) with the `git fetch` that completes it.",
        examples="  python -m pipelines changelog percolate-v0.2.0\n"
        "  python -m pipelines changelog percolate-reading-v0.3.0 --promotion promote.json > notes.md\n"
        "  python -m pipelines changelog percolate-rocks-v1.0.0-rc2 --json",
    )
    parser.add_argument("tag", metavar="TAG", help="a release or RC tag, e.g. percolate-v0.2.0")
    add_root_option(parser)
    parser.add_argument(
        "--repository",
        type=repository_argument,
        metavar="OWNER/NAME",
        help=f"the GitHub repository links point to (default: GITHUB_REPOSITORY, else {GITHUB_REPOSITORY})",
    )
    parser.add_argument(
        "--promotion",
        type=path_argument,
        metavar="FILE",
        help="the release job's promotion record (`promote --json` or `wheels promote --json`): digests or files",
    )
