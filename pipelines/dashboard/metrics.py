"""The four DORA keys of a project, computed exactly over a window that ends at an injected `now`.

Definitions (docs/dashboard.md says the same for readers of the page), over the window
(now - 90 days, now], counting deploys as `history` defines them (a rollback is not counted as a deploy):
- Deployment frequency: deploys in the window, and per week = deploys / (window days / 7).
- Lead time for changes: the median, over the deploys in the window, of deploy time minus the commit
  time of the release's commit (the commit its release tag points at, the newest change it carries).
- Change failure rate: of the deploys in the window, the share a rollback later undid
  (rolled-back deploys / deploys); none when there was no deploy.
- Time to restore: the median, over the failed deploys restored in the window, of the restore time minus
  the deploy's time; none when nothing was rolled back. A failure is restored by the rollback that undid
  it or, when rollbacks followed each other (the restored version failed too), by the last of them.
For percolate-rocks, a deploy is a release published to PyPI (its release tag); a published version
cannot be rolled back, so its failure rate counts none. Pure.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from pipelines.dashboard.model import Deploy, Dora, Release

WINDOW_DAYS = 90
TREND_WEEKS = 13  # the weekly trend covers 13 weeks (91 days) up to now: the window, in whole weeks


def _median(durations: list[timedelta]) -> timedelta | None:
    if not durations:
        return None
    return timedelta(seconds=statistics.median(d.total_seconds() for d in durations))


def dora(
    deploys: Iterable[Deploy], releases: Mapping[str, Release], now: datetime, window_days: int = WINDOW_DAYS
) -> Dora:
    """The DORA keys of one project's `deploys`; `releases` maps version -> release (for commit times)."""
    start = now - timedelta(days=window_days)
    everything = list(deploys)
    changes = [d for d in everything if not d.rollback and start < d.date <= now]
    lead_times = [
        d.date - commit_date
        for d in changes
        if d.version is not None
        and (release := releases.get(d.version)) is not None
        and (commit_date := release.commit_date) is not None
    ]
    failed = [d for d in changes if d.rolled_back_at is not None]
    restores = [
        d.restored_at - d.date for d in everything if d.restored_at is not None and start < d.restored_at <= now
    ]
    return Dora(
        window_days=window_days,
        end=now,
        deploys=len(changes),
        per_week=len(changes) / (window_days / 7),
        lead_time=_median(lead_times),
        failed=len(failed),
        failure_rate=len(failed) / len(changes) if changes else None,
        restores=len(restores),
        time_to_restore=_median(restores),
    )


def weekly(
    deploys: Iterable[Deploy], releases: Mapping[str, Release], now: datetime, weeks: int = TREND_WEEKS
) -> tuple[Dora, ...]:
    """The same keys per week, oldest first: week k is (now - 7 (weeks - k) days, now - 7 (weeks - k - 1) days]."""
    everything = list(deploys)
    return tuple(dora(everything, releases, now - timedelta(weeks=weeks - 1 - k), 7) for k in range(weeks))


def wheel_deploys(releases: Iterable[Release]) -> list[Deploy]:
    """A wheel project's deploys: each release tag, when the release workflow published it to PyPI."""
    published = [Deploy(r.project, r.version, r.date, r.commit) for r in releases if r.date and r.commit]
    return sorted(published, key=lambda d: d.date)


def human_duration(value: timedelta | None) -> str:
    """`3 d 4 h`, `5 h 10 min`, `12 min`; an em dash for none, and for a negative span (dates out of order: a
    tag's date is its tagger's word, and can be forged)."""
    if value is None or value < timedelta(0):
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
