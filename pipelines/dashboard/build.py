"""Assemble the dashboard: read the repository (tags, the stack file's history) and the records, and
compute each project's view. `assemble` is pure; `collect` is the one function here that reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.core.catalog import GITHUB_REPOSITORY, PROJECTS, STACK_CONFIG_FILE
from pipelines.dashboard.data import Records, benchmark_points, read_records
from pipelines.dashboard.history import releases_from_tags, stack_history, with_deploys
from pipelines.dashboard.metrics import dora, wheel_deploys
from pipelines.dashboard.model import Candidate, Dashboard, Deploy, ProjectView, Release
from pipelines.edges.git_history import FileVersion, GitHistory, TagRef


def assemble(
    tags: list[TagRef],
    stack_versions: list[FileVersion],
    records: Records,
    now: datetime,
    repository: str | None = None,
) -> Dashboard:
    """The dashboard of this history at `now`; `repository` (OWNER/NAME) overrides the stack file's."""
    history = stack_history(stack_versions, STACK_CONFIG_FILE)
    releases = releases_from_tags(tags)
    tag_dates = {tag.name: tag.date for tag in tags}
    views = []
    for project in PROJECTS:
        mine = releases.get(project.name, [])
        if project.ships_images:
            deploys = history.deploys.get(project.name, [])
            current = history.current.get(project.name)
            blocked = set(current.blocked) if current else set()
            mine = [
                with_deploys(r, deploys, history.pins_by_version.get((project.name, r.version)), blocked) for r in mine
            ]
        else:
            deploys = wheel_deploys(mine)
        mine = [_with_recorded_artifacts(r, records) for r in mine]
        candidates = [c for r in mine for c in r.candidates]
        views.append(
            ProjectView(
                name=project.name,
                kind="image" if project.ships_images else "wheels",
                releases=tuple(mine),
                deploys=tuple(deploys),
                prod=_current(deploys),
                staging=records.staging.get(project.name),
                newest_rc=max(candidates, key=lambda c: (c.date, c.tag), default=None),
                dora=dora(deploys, {r.version: r for r in mine}, now),
                benchmarks=benchmark_points(records, tag_dates, project.name) if project.benchmarks_dir else (),
            )
        )
    return Dashboard(
        generated=now,
        repository=repository or history.repository or GITHUB_REPOSITORY,
        projects=tuple(views),
        notes=tuple(history.notes + records.notes),
    )


def _current(deploys: Sequence[Deploy]) -> Deploy | None:
    """The deploy that set what runs now: the newest deploy or rollback."""
    return deploys[-1] if deploys else None


def _with_recorded_artifacts(release: Release, records: Records) -> Release:
    """Artifacts from the build record when the stack file gave none: the release's own record, else its
    newest RC's (wheels are re-versioned RC files, so their names carry the rc version)."""
    if release.artifacts:
        return release
    for tag in [release.tag, *(c.tag for c in sorted(release.candidates, key=lambda c: -c.rc))]:
        if tag and tag in records.artifacts:
            return dataclasses.replace(release, artifacts=records.artifacts[tag])
    return release


def collect(root: Path, data: Path | None, now: datetime, repository: str | None = None) -> Dashboard:
    """Read the repository at `root` (and the records in `data`) and assemble the dashboard."""
    git = GitHistory(root)
    records = read_records(data) if data is not None else Records()
    return assemble(git.tags(), git.file_versions(STACK_CONFIG_FILE), records, now, repository)


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON (the `--json` output and the site's `dashboard.json`)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    def hours(value: timedelta | None) -> float | None:
        return round(value.total_seconds() / 3600, 3) if value is not None else None

    def candidate(c: Candidate) -> dict[str, Any]:
        return {"tag": c.tag, "date": iso(c.date), "commit": c.commit}

    projects = []
    for view in dashboard.projects:
        d = view.dora
        projects.append(
            {
                "name": view.name,
                "prod": {"version": view.prod.version, "digest": view.prod.digest, "since": iso(view.prod.date)}
                if view.prod
                else None,
                "staging": {
                    "build": view.staging.build,
                    "result": view.staging.result,
                    "recorded_at": iso(view.staging.recorded_at),
                    "digest": view.staging.digest,
                }
                if view.staging
                else None,
                "newest_rc": candidate(view.newest_rc) if view.newest_rc else None,
                "dora": {
                    "window_days": d.window_days,
                    "deploys": d.deploys,
                    "deploys_per_week": round(d.per_week, 3),
                    "lead_time_hours": hours(d.lead_time),
                    "failed_deploys": d.failed,
                    "change_failure_rate": round(d.failure_rate, 4) if d.failure_rate is not None else None,
                    "time_to_restore_hours": hours(d.time_to_restore),
                },
                "releases": [
                    {
                        "version": r.version,
                        "tag": r.tag,
                        "released": iso(r.date),
                        "candidates": [candidate(c) for c in r.candidates],
                        "rc_to_release_hours": hours(r.rc_to_release),
                        "release_to_deploy_hours": hours(r.release_to_deploy),
                        "blocked": r.blocked,
                        "artifacts": [{"label": a.label, "value": a.value} for a in r.artifacts],
                    }
                    for r in view.releases
                ],
            }
        )
    return {
        "generated": iso(dashboard.generated),
        "repository": dashboard.repository,
        "projects": projects,
        "notes": list(dashboard.notes),
    }
