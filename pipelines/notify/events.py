"""What a notification says: the release events, the facts each carries, and what a person should do next.

Pure values and rules; the chat services' payloads are built from a `Notice` in `payloads`, and sent
by `send`. A notice is checked when it is made (an unknown project, a missing rollback PR or failed
job), so a workflow's mistake is exit 2 before anything is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

from pipelines.core.catalog import get_project
from pipelines.core.errors import InputError
from pipelines.core.tags import parse_tags


class Event(str, Enum):
    RC_BUILT = "rc-built"
    RELEASED = "released"
    DEPLOYED = "deployed"
    ROLLED_BACK = "rolled-back"
    FAILED = "failed"


TITLES = {
    Event.RC_BUILT: "RC built",
    Event.RELEASED: "Released",
    Event.DEPLOYED: "Deployed",
    Event.ROLLED_BACK: "Rolled back",
    Event.FAILED: "Failed",
}
# Discord embed colours (0xRRGGBB): blue, green, teal, orange, red.
COLOURS = {
    Event.RC_BUILT: 0x3B82F6,
    Event.RELEASED: 0x22C55E,
    Event.DEPLOYED: 0x14B8A6,
    Event.ROLLED_BACK: 0xF59E0B,
    Event.FAILED: 0xEF4444,
}


@dataclass(frozen=True)
class Notice:
    """One notification: the event, its project and version, the artifacts, links, and the Markdown details."""

    event: Event
    project: str
    version: str
    run_url: str | None = None
    digests: tuple[str, ...] = ()  # `LABEL=sha256:…` or a bare digest, as given
    files: tuple[str, ...] = ()
    job: str | None = None  # failed: the job that failed
    log_url: str | None = None  # failed: its log (default: the run)
    pull_request: str | None = None  # rolled-back: the rollback PR; released: the deploy PR
    details: str = ""  # Markdown, e.g. the release notes

    @property
    def headline(self) -> str:
        return f"{TITLES[self.event]}: {self.project} {self.version}"


def make_notice(notice: Notice) -> Notice:
    """`notice` checked: a catalog project, a version (a tag of the project stands for its version), and what
    its event needs (InputError naming the option)."""
    get_project(notice.project)
    for tag in parse_tags([notice.version]):
        if tag.project != notice.project:  # percolate-reading-v… given for percolate
            raise InputError(f"--version {tag.name} is a tag of {tag.project}", hint=f"pass a tag of {notice.project}")
        notice = replace(notice, version=tag.package_version.pep440())
    if not notice.version or len(notice.version) > 64 or not notice.version.isprintable() or " " in notice.version:
        raise InputError(f"--version {notice.version[:64]!r} is not a version", hint="e.g. --version 0.2.0")
    if notice.event is Event.FAILED and not notice.job:
        raise InputError("a failed notice names the job that failed", hint="pass --job JOB_NAME")
    if notice.event is Event.ROLLED_BACK and not notice.pull_request:
        raise InputError("a rolled-back notice links the rollback pull request", hint="pass --pr URL")
    return notice


def next_step(notice: Notice) -> str:
    """What a person should do now, in one or two sentences (Markdown)."""
    project, version = notice.project, notice.version
    if notice.event is Event.RC_BUILT:
        release = re.split(r"-?rc", version)[0]
        return (
            f"Check the RC (staging, its tests); when it is good, push the release tag "
            f"`{project}-v{release}` on this RC's commit."
        )
    if notice.event is Event.RELEASED:
        if get_project(project).ships_images:
            where = f" ({notice.pull_request})" if notice.pull_request else ""
            return f"Review and merge the deploy pull request{where}; merging deploys {version} to prod."
        return f"Nothing to do: {project} {version} is on PyPI."
    if notice.event is Event.DEPLOYED:
        return f"Nothing to do: {version} is live and healthy. Watch the service's dashboards for a while."
    if notice.event is Event.ROLLED_BACK:
        return (
            f"{version} failed its health gate and is blocked; the previous release runs again. Merge the rollback "
            f"pull request ({notice.pull_request}) so main says what runs, fix the cause, and release a new version."
        )
    log = notice.log_url or notice.run_url or "the run's page"
    return f"Job `{notice.job}` failed: read its log ({log}), fix the cause, and re-run the failed jobs."
