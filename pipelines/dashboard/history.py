"""Releases, deploys and rollbacks, read from the repository's tags and the history of Pulumi.prod.yaml.

- A release is a version of a project with its RC tags and, once released, its release tag.
- An image deploy is a commit on the main line that changed the project's pin (version or digest) in
  `percolate-platform:images` of Pulumi.prod.yaml: merging the deploy pull request runs `pulumi up`,
  so the commit's date is when the change reached prod. A change whose entry newly blocks the version
  it replaces is a rollback (that is how `pipelines rollback` marks the failed version), also when it
  goes back to no release at all (a first release rolled back): the deploy it replaced counts as failed,
  restored at the rollback's date. A rollback right after a rollback (the restored version failed too)
  continues the same failure: it is restored at the last rollback of the chain.
- A version in a `blocked` list is blocked since the commit that first listed it: by a rollback, or by hand.
- A commit whose subject names a pull request (`… (#12)`, `Merge pull request #12 …`) came from it.
- A wheel release is its own deploy: the release workflow publishes it to PyPI at the tag.
Pure: tags and file versions come in as values from `edges.git_history`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.core.catalog import REPOSITORY_KEY, image_projects
from pipelines.core.errors import InputError
from pipelines.core.names import GITHUB_SLUG
from pipelines.core.tags import parse_tag
from pipelines.dashboard.model import Artifact, Blocked, Candidate, Deploy, Release
from pipelines.deploy.pins import IMAGES_KEY, ImagePin, parse_images
from pipelines.deploy.write_back import stack_document
from pipelines.edges.git_history import FileVersion, TagRef


@dataclass(frozen=True)
class StackHistory:
    """What the stack file's history says: deploys and rollbacks per project (oldest first), the pins at
    HEAD, every pin a version was ever deployed with, since when each version is blocked, the repository
    slug at HEAD, and notes on skipped versions."""

    deploys: dict[str, list[Deploy]]
    current: dict[str, ImagePin]
    pins_by_version: dict[tuple[str, str], ImagePin]
    blocked_since: dict[tuple[str, str], Blocked]
    repository: str | None
    notes: list[str]

    def blocked(self, project: str) -> tuple[Blocked, ...]:
        """The versions of `project` blocked at HEAD, each with the commit that blocked it (newest first)."""
        current = self.current.get(project)
        found = [
            self.blocked_since[(project, v)]
            for v in (current.blocked if current else ())
            if (project, v) in self.blocked_since
        ]
        return tuple(sorted(found, key=lambda b: b.since, reverse=True))


_PULL_REQUEST = re.compile(r"\(#([0-9]{1,9})\)\s*$|^Merge pull request #([0-9]{1,9})\b")


def pull_request_of(subject: str) -> int | None:
    """The pull request a commit subject names: GitHub's squash (`title (#12)`) or merge commit."""
    found = _PULL_REQUEST.search(subject)
    return int(found.group(1) or found.group(2)) if found else None


def releases_from_tags(tags: Iterable[TagRef]) -> tuple[dict[str, list[Release]], list[str]]:
    """Every version that has a tag, per project, newest version first, and notes; foreign tags are skipped.
    A ref is a release or RC only when its name is the tag's name exactly: a pushed tag named
    `refs/tags/percolate-v0.1.0` (which `parse_tag` would read as percolate-v0.1.0) is skipped with a note,
    so it never takes that release's date, commit or digests."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    notes: list[str] = []
    for ref in tags:
        try:
            tag = parse_tag(ref.name)
        except InputError:
            continue
        if tag.name != ref.name:
            notes.append(f"tag {ref.name[:120]!a} is named like release tag {tag.name}, but is not it; skipped")
            continue
        entry = found.setdefault((tag.project, tag.version.release), {"candidates": [], "release": None})
        if tag.rc is None:
            entry["release"] = ref
        else:
            entry["candidates"].append(Candidate(ref.name, tag.rc, ref.date, ref.commit))
    releases: dict[str, list[Release]] = {}
    for (project, version), entry in found.items():
        ref = entry["release"]
        releases.setdefault(project, []).append(
            Release(
                project=project,
                version=version,
                candidates=tuple(sorted(entry["candidates"], key=lambda c: c.rc)),
                tag=ref.name if ref else None,
                date=ref.date if ref else None,
                commit=ref.commit if ref else None,
                commit_date=ref.commit_date if ref else None,
            )
        )
    for project_releases in releases.values():
        project_releases.sort(key=lambda r: tuple(int(part) for part in r.version.split(".")), reverse=True)
    return releases, notes


def _images_and_repository(text: str, path: str) -> tuple[dict[str, ImagePin], str | None]:
    data = stack_document(text, path)[0]
    config = data.get("config") if isinstance(data, Mapping) else None
    if not isinstance(config, Mapping):
        return {}, None
    repository = config.get(REPOSITORY_KEY)
    slug = None
    if isinstance(repository, Mapping) and all(isinstance(repository.get(key), str) for key in ("owner", "name")):
        slug = f"{repository['owner']}/{repository['name']}"
    return parse_images(config.get(IMAGES_KEY)), slug


def _checked_slug(slug: str | None, path: str, notes: list[str]) -> str | None:
    """The stack file's OWNER/NAME when it is one (`core.names.GITHUB_SLUG`); anything else would land in the
    links and the commands the page shows, so it is ignored with a note."""
    if slug is None or GITHUB_SLUG.fullmatch(slug):
        return slug
    notes.append(f"{path}: {REPOSITORY_KEY} {slug[:120]!a} is not a GitHub OWNER/NAME; ignored")
    return None


def stack_history(versions: Iterable[FileVersion], path: str) -> StackHistory:
    """Deploys and rollbacks from the stack file's versions, oldest first; a version that does not parse
    is skipped with a note (one bad commit must not hide the rest of the history)."""
    deploys: dict[str, list[Deploy]] = {p.name: [] for p in image_projects()}
    previous: dict[str, ImagePin] = {}
    pins_by_version: dict[tuple[str, str], ImagePin] = {}
    blocked_since: dict[tuple[str, str], Blocked] = {}
    notes: list[str] = []
    repository = None
    for version in versions:
        if version.text is None:
            notes.append(f"{path} at {version.commit[:7]} is not UTF-8 text; skipped")
            continue
        try:
            pins, repository = _images_and_repository(version.text, path)
        except InputError as error:
            notes.append(f"{path} at {version.commit[:7]} does not parse ({str(error).splitlines()[0]}); skipped")
            continue
        for name, pin in pins.items():
            before = previous.get(name)
            previous[name] = pin
            already = set(before.blocked) if before else set()
            newly = tuple(v for v in pin.blocked if v not in already)
            changed = before is None or (before.version, before.digest) != (pin.version, pin.digest)
            rollback = changed and before is not None and before.pinned and str(before.version) in newly
            for blocked in newly:
                key = (name, blocked)
                blocked_since[key] = Blocked(blocked, version.date, version.commit, by_rollback=rollback)
            if not (pin.pinned and changed) and not rollback:
                continue
            if pin.pinned:
                pins_by_version.setdefault((name, str(pin.version)), pin)
            change = Deploy(
                name,
                str(pin.version) if pin.pinned else None,
                version.date,
                version.commit,
                digest=pin.digest,
                previous=str(before.version) if before is not None and before.pinned else None,
                blocked=newly,
                pull_request=pull_request_of(version.subject),
            )
            history = deploys[name]
            if rollback:
                change = _roll_back(history, change)
            history.append(change)
    repository = _checked_slug(repository, path, notes)
    return StackHistory(deploys, previous, pins_by_version, blocked_since, repository, notes)


def _roll_back(history: list[Deploy], rollback: Deploy) -> Deploy:
    """`rollback` marked as one; the failed deploy it recovers from (the last deploy before the chain of
    rollbacks it ends) restored at its date, and first rolled back when this is the chain's first."""
    start = len(history)
    while start > 0 and history[start - 1].rollback:
        start -= 1
    if start == 0:  # nothing deployed through this history before it: a rollback with no failed deploy
        return dataclasses.replace(rollback, rollback=True)
    failed = history[start - 1]
    history[start - 1] = dataclasses.replace(
        failed, rolled_back_at=failed.rolled_back_at or rollback.date, restored_at=rollback.date
    )
    return dataclasses.replace(rollback, rollback=True, failed_at=failed.date)


def first_deploys(deploys: Iterable[Deploy]) -> dict[str, datetime]:
    """When each version was first deployed (rollbacks that restored it do not count)."""
    first: dict[str, datetime] = {}
    for deploy in deploys:
        if deploy.version is not None and not deploy.rollback:
            first.setdefault(deploy.version, deploy.date)
    return first


def with_deploys(release: Release, first: Mapping[str, datetime], pin: ImagePin | None, blocked: set[str]) -> Release:
    """`release` with its first prod deploy (from `first_deploys`), its digests (from the pin it was deployed
    with) and whether a rollback blocked it."""
    artifacts = release.artifacts
    if pin is not None and pin.digest is not None:
        artifacts = (Artifact("index", pin.digest), *(Artifact(arch, digest) for arch, digest in pin.platforms))
    return dataclasses.replace(
        release, deployed=first.get(release.version), artifacts=artifacts, blocked=release.version in blocked
    )
