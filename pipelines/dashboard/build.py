"""Assemble the dashboard: read the repository (tags, the stack file's history) and the records, and
compute each project's view. `assemble` is pure; `collect` is the one function here that reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.core.catalog import GITHUB_REPOSITORY, PROJECTS, STACK_CONFIG_FILE
from pipelines.dashboard.data import Records, benchmark_points, read_records
from pipelines.dashboard.export import SCHEMA_VERSION, levels_json, project_json
from pipelines.dashboard.history import first_deploys, releases_from_tags, stack_history, with_deploys
from pipelines.dashboard.metrics import dora, weekly, wheel_deploys
from pipelines.dashboard.model import Dashboard, Deploy, ProjectView, Release
from pipelines.dashboard.rcs import index_runs, with_staging
from pipelines.edges.git_history import FileVersion, GitHistory, TagRef


def assemble(
    tags: list[TagRef],
    stack_versions: list[FileVersion],
    records: Records,
    now: datetime,
    repository: str | None = None,
    read_notes: Sequence[str] = (),
) -> Dashboard:
    """The dashboard of this history at `now`; `repository` (OWNER/NAME) overrides the stack file's;
    `read_notes` say what reading the repository left out."""
    history = stack_history(stack_versions, STACK_CONFIG_FILE)
    releases, tag_notes = releases_from_tags(tags)
    tag_dates = {tag.name: tag.date for tag in tags}
    views = []
    for project in PROJECTS:
        mine = releases.get(project.name, [])
        if project.ships_images:
            deploys = history.deploys.get(project.name, [])
            current = history.current.get(project.name)
            blocked = set(current.blocked) if current else set()
            first = first_deploys(deploys)
            mine = [
                with_deploys(r, first, history.pins_by_version.get((project.name, r.version)), blocked) for r in mine
            ]
        else:
            deploys = wheel_deploys(mine)
        runs = index_runs(records.staging_runs.get(project.name, []))
        mine = [with_staging(_with_recorded_artifacts(r, records), runs) for r in mine]
        candidates = [c for r in mine for c in r.candidates]
        by_version = {r.version: r for r in mine}
        views.append(
            ProjectView(
                name=project.name,
                kind="image" if project.ships_images else "wheels",
                releases=tuple(mine),
                deploys=tuple(deploys),
                prod=_current(deploys),
                staging=records.staging.get(project.name),
                newest_rc=max(candidates, key=lambda c: (c.date, c.tag), default=None),
                dora=dora(deploys, by_version, now),
                trend=weekly(deploys, by_version, now),
                blocked=history.blocked(project.name) if project.ships_images else (),
                benchmarks=benchmark_points(records, tag_dates, project.name) if project.benchmarks_dir else (),
            )
        )
    return Dashboard(
        generated=now,
        repository=repository or history.repository or GITHUB_REPOSITORY,
        projects=tuple(views),
        notes=(*read_notes, *tag_notes, *history.notes, *records.notes),
    )


def _current(deploys: Sequence[Deploy]) -> Deploy | None:
    """The deploy that set what runs now: the newest deploy or rollback (None when that went back to no
    release)."""
    return deploys[-1] if deploys and deploys[-1].version is not None else None


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
    tags, versions = git.tags(), git.file_versions(STACK_CONFIG_FILE)
    return assemble(tags, versions, records, now, repository, git.notes)


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as plain JSON (the `--json` output and the site's `dashboard.json`); the schema is
    docs/dashboard.md's, versioned by `schema_version`."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated": dashboard.generated.isoformat(),
        "repository": dashboard.repository,
        "dora_levels": levels_json(),
        "projects": [project_json(view) for view in dashboard.projects],
        "notes": list(dashboard.notes),
    }
