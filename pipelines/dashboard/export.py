"""The dashboard's data as plain JSON (`dashboard.json`, and `dashboard --json`), schema version 2.

docs/dashboard.md describes every field. Times are ISO 8601 with the offset git or the record gave them;
durations are hours (3 decimals); lists of events are in time order, oldest first; releases newest first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipelines.dashboard.levels import KEYS, REPORT, REPORT_BY, REPORT_URL, TABLE, rate
from pipelines.dashboard.model import Blocked, Candidate, Deploy, Dora, ProjectView, Release, StagingRun

SCHEMA_VERSION = 2


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _hours(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 3600, 3) if value is not None else None


def levels_json() -> dict[str, Any]:
    """The thresholds the levels are rated against, with their source."""
    return {
        "report": REPORT,
        "by": REPORT_BY,
        "url": REPORT_URL,
        "levels": [{"level": row.level, **{key: getattr(row, key).words for key in KEYS}} for row in TABLE],
    }


def _dora(d: Dora) -> dict[str, Any]:
    return {
        "window_days": d.window_days,
        "deploys": d.deploys,
        "deploys_per_week": round(d.per_week, 3),
        "lead_time_hours": _hours(d.lead_time),
        "failed_deploys": d.failed,
        "change_failure_rate": round(d.failure_rate, 4) if d.failure_rate is not None else None,
        "time_to_restore_hours": _hours(d.time_to_restore),
    }


def _week(d: Dora) -> dict[str, Any]:
    return {
        "start": _iso(d.end - timedelta(days=d.window_days)),
        "end": _iso(d.end),
        "deploys": d.deploys,
        "lead_time_hours": _hours(d.lead_time),
        "change_failure_rate": round(d.failure_rate, 4) if d.failure_rate is not None else None,
        "time_to_restore_hours": _hours(d.time_to_restore),
    }


def _event(d: Deploy) -> dict[str, Any]:
    common = {"at": _iso(d.date), "commit": d.commit, "pull_request": d.pull_request}
    if d.rollback:
        return {
            "type": "rollback",
            "from_version": d.previous,
            "to_version": d.version,
            "digest": d.digest,
            **common,
            "blocked": list(d.blocked),
            "time_to_restore_hours": _hours(d.restore_time),
        }
    return {
        "type": "deploy",
        "version": d.version,
        "digest": d.digest,
        **common,
        "rolled_back_at": _iso(d.rolled_back_at),
        "restored_at": _iso(d.restored_at),
    }


def _staging(run: StagingRun) -> dict[str, Any]:
    return {
        "build": run.build,
        "result": run.result,
        "recorded_at": _iso(run.recorded_at),
        "digest": run.digest,
        "run_url": run.run_url,
    }


def _candidate(c: Candidate) -> dict[str, Any]:
    return {"tag": c.tag, "date": _iso(c.date), "commit": c.commit, "staging": [_staging(r) for r in c.staging]}


def _release(r: Release) -> dict[str, Any]:
    build_to_staging, staging_to_release, release_to_deploy = r.stages
    released = r.released_candidate
    return {
        "version": r.version,
        "tag": r.tag,
        "released": _iso(r.date),
        "candidates": [_candidate(c) for c in r.candidates],
        "released_candidate": released.tag if released is not None and r.tag else None,
        "rc_to_release_hours": _hours(r.rc_to_release),
        "release_to_deploy_hours": _hours(release_to_deploy),
        "stages": {
            "build_to_staging_hours": _hours(build_to_staging),
            "staging_to_release_hours": _hours(staging_to_release),
            "release_to_deploy_hours": _hours(release_to_deploy),
        },
        "blocked": r.blocked,
        "artifacts": [{"label": a.label, "value": a.value} for a in r.artifacts],
    }


def _blocked(b: Blocked) -> dict[str, Any]:
    return {
        "version": b.version,
        "since": _iso(b.since),
        "commit": b.commit,
        "by": "rollback" if b.by_rollback else "hand",
    }


def project_json(view: ProjectView) -> dict[str, Any]:
    """One project: what runs where, the DORA keys with their levels and weekly trend, the deploy history,
    the blocked versions and every release."""
    prod, staging = view.prod, view.staging
    return {
        "name": view.name,
        "kind": view.kind,
        "prod": {"version": prod.version, "digest": prod.digest, "since": _iso(prod.date)} if prod else None,
        "staging": {
            "build": staging.build,
            "result": staging.result,
            "recorded_at": _iso(staging.recorded_at),
            "digest": staging.digest,
        }
        if staging
        else None,
        "newest_rc": {"tag": view.newest_rc.tag, "date": _iso(view.newest_rc.date), "commit": view.newest_rc.commit}
        if view.newest_rc
        else None,
        "dora": {**_dora(view.dora), "levels": rate(view.dora, can_roll_back=view.kind == "image")},
        "trend": [_week(week) for week in view.trend],
        "events": [_event(d) for d in view.deploys],
        "blocked": [_blocked(b) for b in view.blocked],
        "releases": [_release(r) for r in view.releases],
    }
