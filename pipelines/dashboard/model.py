"""The dashboard's data model: frozen values built from the repository's history and the build records.

Times are aware datetimes (UTC when they come from records); durations are timedeltas. Nothing here
reads a file or git: `history` and `records` build these values, `metrics` computes on them,
`page` and `charts` draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Candidate:
    """A release candidate: its tag, rc number, when it was tagged and on which commit."""

    tag: str
    rc: int
    date: datetime
    commit: str


@dataclass(frozen=True)
class Artifact:
    """What a release shipped: an image digest (label: index or an architecture) or a file's sha256."""

    label: str
    value: str


@dataclass(frozen=True)
class Release:
    """One version of a project: its RCs and, once released, its tag, commit and artifacts."""

    project: str
    version: str
    candidates: tuple[Candidate, ...]
    tag: str | None = None
    date: datetime | None = None
    commit: str | None = None
    commit_date: datetime | None = None
    artifacts: tuple[Artifact, ...] = ()
    deployed: datetime | None = None  # the first prod deploy of this version (images); None for wheels
    blocked: bool = False  # a rollback marked it: automation never deploys it again

    @property
    def first_rc(self) -> datetime | None:
        return min((c.date for c in self.candidates), default=None)

    @property
    def rc_to_release(self) -> timedelta | None:
        """Lead time from the first RC tag to the release tag."""
        first = self.first_rc
        return self.date - first if self.date is not None and first is not None else None

    @property
    def release_to_deploy(self) -> timedelta | None:
        """Lead time from the release tag to the first prod deploy of the version."""
        return self.deployed - self.date if self.deployed is not None and self.date is not None else None


@dataclass(frozen=True)
class Deploy:
    """A change of what runs in prod: for images a new pin in Pulumi.prod.yaml (merged to main), for
    wheels a release published to PyPI. A rollback is a deploy too, marked as one."""

    project: str
    version: str
    date: datetime
    commit: str
    digest: str | None = None
    rollback: bool = False  # this change restored an earlier release
    rolled_back_at: datetime | None = None  # when a later rollback undid this deploy


@dataclass(frozen=True)
class StagingRun:
    """The newest staging record of a project: which build was tested and what came out."""

    build: str
    result: str
    recorded_at: datetime
    digest: str | None = None
    run_url: str | None = None


@dataclass(frozen=True)
class BenchmarkPoint:
    """One build's benchmark medians (seconds), by benchmark name."""

    label: str  # the RC tag
    date: datetime
    medians: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Dora:
    """The four DORA keys of one project over the window (definitions in `metrics.dora`)."""

    window_days: int
    deploys: int
    per_week: float
    lead_time: timedelta | None
    failed: int
    failure_rate: float | None
    restores: int
    time_to_restore: timedelta | None


@dataclass(frozen=True)
class ProjectView:
    """Everything the page shows about one project."""

    name: str
    kind: str  # "image" or "wheels"
    releases: tuple[Release, ...]  # newest first
    deploys: tuple[Deploy, ...]  # oldest first
    prod: Deploy | None
    staging: StagingRun | None
    newest_rc: Candidate | None
    dora: Dora
    benchmarks: tuple[BenchmarkPoint, ...] = ()


@dataclass(frozen=True)
class Dashboard:
    """The whole page: when it was built, from which repository, each project, and notes on skipped input."""

    generated: datetime
    repository: str
    projects: tuple[ProjectView, ...]
    notes: tuple[str, ...] = field(default=())
