"""The rules of deployment: what a release writes into the images subtree, what a rollback restores,
and what the deploy pull request says.

All pure: they take and return `ImagePin`s (the images-subtree contract of
`pipelines.deploy.pins`) and plain text; the stack file, git and GitHub stay at the
edges, in `stackfile`, `git` and `github`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.catalog import STACK_CONFIG_FILE, get_project
from pipelines.core.errors import InputError, NotFound, RuleRefused
from pipelines.core.tags import parse_tags
from pipelines.core.versions import parse_release
from pipelines.deploy.pins import IMAGES_KEY, ImagePin, parse_image_pin


def release_pin(record: Mapping[str, Any]) -> ImagePin:
    """The pin a promotion record (`promote --json`) stands for, validated against the contract."""
    missing = [
        key for key in ("project", "repository", "version", "index_digest", "platforms", "source") if key not in record
    ]
    if missing:
        raise InputError(
            f"the promotion record lacks {', '.join(missing)}",
            hint="pass the JSON that `python -m pipelines promote TAG --json` printed",
        )
    if record.get("dry_run"):
        raise InputError("the promotion record is from a dry run", hint="promote without --dry-run first")
    entry = {
        "repository": record["repository"],
        "version": record["version"],
        "digest": record["index_digest"],
        "platforms": record["platforms"],
        "source": record["source"],
    }
    return parse_image_pin(str(record["project"]), entry, key="promotion record")


def refuse_blocked(existing: ImagePin | None, version: str) -> None:
    """A version a rollback blocked is never deployed by automation again; only a person clears it."""
    if existing is not None and version in existing.blocked:
        raise RuleRefused(
            f"{existing.project} {version} is blocked in {IMAGES_KEY}.{existing.project}.blocked "
            "(a rollback marked it); automation does not deploy it again",
            hint=f"release a fixed version, or remove {version} from blocked in {STACK_CONFIG_FILE} by hand",
        )


def apply_release(existing: ImagePin | None, release: ImagePin) -> ImagePin:
    """The entry after deploying `release`: its digests, with the versions people blocked kept."""
    refuse_blocked(existing, str(release.version))
    return dataclasses.replace(release, blocked=existing.blocked if existing else ())


def choose_rollback(current: ImagePin, history: Iterable[ImagePin], to_version: str | None = None) -> ImagePin:
    """The entry a rollback writes: what ran before the current release, with the current version blocked.

    `history` holds the project's entries from the stack file's git history, newest first (an
    unreleased entry where the file named none). Without `to_version`, the newest release whose
    version differs from the current one and is not blocked; with it, the newest entry of that version.

    A first release has no earlier one: when no such release is left and the project was not released
    right before the current version, the entry goes back to that state (its repository only, the
    version blocked), so the Application runs its manifests' own image again, as it did before.
    Earlier releases that are all blocked are a person's decision, which a rollback does not undo.
    """
    if not current.pinned:
        raise RuleRefused(f"{current.project} has no deployed release to roll back", hint="nothing to do")
    blocked = tuple(dict.fromkeys((*current.blocked, str(current.version))))
    entries = list(history)
    earlier = [pin for pin in entries if pin.pinned and pin.version != current.version]
    if to_version is not None:
        if to_version in blocked:
            raise RuleRefused(f"{current.project} {to_version} is blocked", hint="roll back to another version")
        candidates = [pin for pin in earlier if pin.version == to_version]
    else:
        candidates = [pin for pin in earlier if pin.version not in blocked]
        before = next((pin for pin in entries if pin.version != current.version), None)
        if not candidates and before is not None and not before.pinned:
            return ImagePin(current.project, current.repository, blocked=blocked)
    if not candidates:
        seen = ", ".join(dict.fromkeys(str(pin.version) for pin in earlier)) or "none"
        wanted = f"version {to_version}" if to_version else "an earlier release that is not blocked"
        raise NotFound(
            f"no {wanted} of {current.project} in the history of {STACK_CONFIG_FILE} (earlier versions: {seen})",
            hint="pass --to VERSION naming one of them, or fix forward with a new release",
        )
    return dataclasses.replace(candidates[0], blocked=blocked)


@dataclass(frozen=True)
class PullRequest:
    """The branch, commit message, title and body of a deploy (or rollback) pull request."""

    branch: str
    title: str
    body: str
    commit_message: str


def deploy_branch(project: str, version: str) -> str:
    return f"deploy/{project}-v{version}"


def _pin_table(pin: ImagePin) -> list[str]:
    rows = ["| platform | manifest digest |", "|---|---|"]
    rows += [f"| {arch} | `{digest}` |" for arch, digest in pin.platforms]
    return rows


def deploy_pull_request(pin: ImagePin, changelog: list[str], previous_tag: str | None) -> PullRequest:
    """The pull request that deploys `pin`: what changes, where it came from, and what changed since."""
    project = get_project(pin.project)
    since = f"since {previous_tag}" if previous_tag else "(first release)"
    body = [
        f"Deploys **{pin.project} {pin.version}** to the prod stack: Argo CD application "
        f"`{project.argocd_application}` will run `{pin.reference}`.",
        "",
        f"- version: `{pin.version}`",
        f"- image index: `{pin.digest}`",
        f"- source RC build: `{pin.source}`",
        "",
        *_pin_table(pin),
        "",
        f"### Changes {since}",
        "",
        *([f"- {line}" for line in changelog] or ["- no commits touched the project"]),
        "",
        f"Merging runs `deploy.yml`: `pulumi up --stack prod` in environment `production` (a reviewer approves), "
        f"then the health gate; a failed gate rolls back and blocks {pin.version}.",
        "",
        f"Written by `python -m pipelines deploy-pr`; only `{IMAGES_KEY}.{pin.project}` in `{STACK_CONFIG_FILE}` "
        "changes.",
    ]
    return PullRequest(
        branch=deploy_branch(pin.project, str(pin.version)),
        title=f"Deploy {pin.project} {pin.version}",
        body="\n".join(body) + "\n",
        commit_message=f"deploy: {pin.project} {pin.version}\n\nPin {pin.reference} (from {pin.source}).\n",
    )


def previous_release_tag(project: str, version: str, tags: Iterable[str]) -> str | None:
    """The newest release tag of `project` older than `version`, for the changelog."""
    current = parse_release(version).sort_key()
    older = [t for t in parse_tags(tags) if t.project == project and t.rc is None and t.version.sort_key() < current]
    return max(older, key=lambda t: t.version.sort_key()).name if older else None
