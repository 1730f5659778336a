"""The dashboard's data model: frozen values built from the repository's history and the build records.

Times are aware datetimes (UTC when they come from records); durations are timedeltas. Nothing here
reads a file or git: `history` and `records` build these values, `metrics` computes on them,
`page` and `charts` draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property


@dataclass(frozen=True)
class StagingRun:
    """One staging record: which build (or RC version) was tested, and what came out, when."""

    build: str
    result: str
    recorded_at: datetime
    digest: str | None = None
    run_url: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A release candidate: its tag, rc number, when it was tagged, on which commit, and its staging runs
    (oldest first)."""

    tag: str
    rc: int
    date: datetime
    commit: str
    staging: tuple[StagingRun, ...] = ()

    @property
    def passed_at(self) -> datetime | None:
        """When its staging tests first passed."""
        return min((run.recorded_at for run in self.staging if run.result == "passed"), default=None)


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

    @property
    def released_candidate(self) -> Candidate | None:
        """The RC the release was made from: the newest RC on the release's commit (else the newest RC)."""
        if not self.candidates:
            return None
        same = [c for c in self.candidates if c.commit == self.commit]
        return max(same or self.candidates, key=lambda c: c.rc)

    @property
    def stages(self) -> tuple[timedelta | None, timedelta | None, timedelta | None]:
        """The lead time of each stage: build (the released RC's tag) -> staging passed -> release tag ->
        first prod deploy; None where a stage has no time (no staging record, not released, not deployed)."""
        rc = self.released_candidate
        passed = rc.passed_at if rc is not None else None
        build_to_staging = passed - rc.date if rc is not None and passed is not None else None
        staging_to_release = self.date - passed if self.date is not None and passed is not None else None
        return build_to_staging, staging_to_release, self.release_to_deploy


@dataclass(frozen=True)
class Deploy:
    """A change of what runs in prod: for images a new pin in Pulumi.prod.yaml (merged to main), for
    wheels a release published to PyPI. A rollback is a deploy too, marked as one: it restores an earlier
    release (`version`; None when it went back to no release at all) and blocks the version it replaced.

    A rollback of a rollback continues the same failure: `failed_at` is the time of the deploy that started
    it, and that deploy's `restored_at` moves to the last rollback of the chain."""

    project: str
    version: str | None
    date: datetime
    commit: str
    digest: str | None = None
    rollback: bool = False  # this change restored an earlier release
    rolled_back_at: datetime | None = None  # when a rollback first undid this deploy
    restored_at: datetime | None = None  # when the last rollback of that failure landed
    previous: str | None = None  # the version that ran before this change
    blocked: tuple[str, ...] = ()  # the versions this change newly blocked
    failed_at: datetime | None = None  # a rollback: when the failed deploy it recovers from landed
    pull_request: int | None = None  # the pull request whose merge made this commit, when its subject says

    @property
    def restore_time(self) -> timedelta | None:
        """A rollback: the time from the failed deploy to this rollback."""
        return self.date - self.failed_at if self.failed_at is not None else None


@dataclass(frozen=True)
class Blocked:
    """A version automation never deploys again, and why: the rollback that blocked it, or a person's commit."""

    version: str
    since: datetime
    commit: str
    by_rollback: bool


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
    end: datetime  # the window is (end - window_days, end]
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
    deploys: tuple[Deploy, ...]  # oldest first, rollbacks among them
    prod: Deploy | None
    staging: StagingRun | None
    newest_rc: Candidate | None
    dora: Dora
    trend: tuple[Dora, ...] = ()  # the same keys per week, oldest week first
    blocked: tuple[Blocked, ...] = ()
    benchmarks: tuple[BenchmarkPoint, ...] = ()

    @cached_property
    def tagged(self) -> frozenset[str]:
        """The versions that have a row on the page (a link target): those with a tag."""
        return frozenset(release.version for release in self.releases)


@dataclass(frozen=True)
class Dashboard:
    """The whole page: when it was built, from which repository, each project, and notes on skipped input."""

    generated: datetime
    repository: str
    projects: tuple[ProjectView, ...]
    notes: tuple[str, ...] = field(default=())
