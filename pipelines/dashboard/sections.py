"""One project's part of the page: its deploy history (deploys and rollbacks as events, newest first), the
versions blocked now and why, the weekly trend of its DORA keys and its release cadence, and its releases
with their RC pipeline (RCs, staging results, the lead time of each stage) and verification commands.

The page stays small for a long history: the newest `EVENTS_SHOWN` events and `RELEASES_SHOWN` releases are
shown in full; older events are summed up per quarter (every rollback still listed) and older releases
listed one line each, per year, each line still a link target. dashboard.json keeps everything.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pipelines.core.catalog import get_project
from pipelines.core.tags import parse_tag
from pipelines.dashboard.charts import line_chart, trend_bars
from pipelines.dashboard.html import LIST_SHOWN, cell, github, link, listed, short, table, text, when
from pipelines.dashboard.metrics import human_duration
from pipelines.dashboard.model import Candidate, Deploy, ProjectView, Release
from pipelines.notes.verification import COMMIT_PLACEHOLDER, verification_of

EVENTS_SHOWN = 20
RELEASES_SHOWN = 10
LATEST_SHOWN = 8
EVENT_HEADERS = ["when", "event", "version", "digest", "change", "outcome"]


def anchor(project: str, version: str) -> str:
    """The link target of a release: its tag's name."""
    return f"{project}-v{version}"


def verification(view: ProjectView, release: Release, repository: str) -> str:
    """The commands that check a release's signatures, in the release notes' own form
    (pipelines/notes/verification.py; the notes add the SBOM attestations, sums and PyPI's copy).

    An image release names its images by the digests the stack file pinned, when it has them; a wheel release
    by its file names only (the files recorded for it may be its RC's, whose names and sums differ).
    Every value put into them is checked on the way in (a slug, a tag, hex, digests); should one still need
    shell quoting, the page shows no command rather than one a reader could not paste safely.
    """
    tag = parse_tag(str(release.tag))
    record = None
    digests = {artifact.label: artifact.value for artifact in release.artifacts}
    if view.kind == "image" and "index" in digests:
        index = digests.pop("index")
        record = {"repository": get_project(view.name).image_repository(), "index_digest": index, "platforms": digests}
    values = [repository, tag.name, release.commit or "", *digests.values(), *(a.value for a in release.artifacts)]
    if any(shlex.quote(value) != value for value in values if value):
        return "(not shown: a value here would need shell quoting)"
    checks = verification_of(tag, repository, record, release.commit or COMMIT_PLACEHOLDER)
    return "\n".join(checks.signature_commands) if checks else ""


def _change(deploy: Deploy, repository: str) -> str:
    """The pull request whose merge made the change, else its commit."""
    if deploy.pull_request is not None:
        return link(github(repository, "pull", str(deploy.pull_request)), f"PR #{deploy.pull_request}")
    return link(github(repository, "commit", deploy.commit), f"<code>{text(deploy.commit[:7])}</code>")


def version_link(view: ProjectView, version: str | None) -> str:
    """A version, linked to its release's row when it has one (a version deployed without a tag has none)."""
    if version is None:
        return "not released"
    if version not in view.tagged:
        return text(version)
    return f'<a href="#{text(anchor(view.name, version))}">{text(version)}</a>'


def _event_row(view: ProjectView, deploy: Deploy, repository: str, with_project: bool = False) -> str:
    if deploy.rollback:
        kind = '<span class="bad">↩ rollback</span>'
        version = f"{version_link(view, deploy.previous)} → {version_link(view, deploy.version)}"
        blocked = listed([text(v) for v in deploy.blocked])
        detail = f"blocked {blocked}; restored {human_duration(deploy.restore_time)} after the failed deploy"
        if deploy.failed_at is None:
            detail = f"blocked {blocked}"
    else:
        kind = "deploy" if view.kind == "image" else "release to PyPI"
        version = version_link(view, deploy.version)
        detail = ""
        if deploy.rolled_back_at is not None:
            detail = f'<span class="bad">rolled back</span> {human_duration(deploy.rolled_back_at - deploy.date)} later'
    row_class = ' class="rollback"' if deploy.rollback else ""
    project = f'<th scope="row"><a href="#{text(view.name)}">{text(view.name)}</a></th>' if with_project else ""
    return (
        f"<tr{row_class}>{project}{cell('when', when(deploy.date))}{cell('event', kind)}{cell('version', version)}"
        f"{cell('digest', short(deploy.digest) if view.kind == 'image' else 'PyPI')}"
        f"{cell('change', _change(deploy, repository))}{cell('outcome', detail or '—')}</tr>"
    )


def _quarter(value: datetime) -> str:
    utc = value.astimezone(UTC)
    return f"{utc.year} Q{(utc.month - 1) // 3 + 1}"


def latest_events(views: Sequence[ProjectView], repository: str) -> str:
    """The newest deploys and rollbacks of all projects together: what happened lately across the monorepo."""
    events = sorted(((d.date, view, d) for view in views for d in view.deploys), key=lambda e: e[0], reverse=True)
    rows = [_event_row(view, d, repository, with_project=True) for _, view, d in events[:LATEST_SHOWN]]
    if not rows:
        return "<p>No deploy yet.</p>"
    caption = f"The newest {len(rows)} deploys and rollbacks of all projects, newest first"
    return table(caption, ["project", *EVENT_HEADERS], rows, stack=True)


def _older_events(view: ProjectView, older: list[Deploy]) -> str:
    quarters: dict[str, list[Deploy]] = {}
    for deploy in older:
        quarters.setdefault(_quarter(deploy.date), []).append(deploy)
    rows = []
    for quarter, events in sorted(quarters.items(), reverse=True):
        deploys = [d for d in events if not d.rollback]
        rollbacks = [d for d in events if d.rollback]
        versions = [d.version for d in reversed(deploys) if d.version]  # oldest first
        span = f"{text(versions[0])} to {text(versions[-1])}" if versions else "—"
        undone = listed(
            [f"{when(d.date)}: {text(d.previous or '—')} → {text(d.version or 'not released')}" for d in rollbacks],
            "; ",
        )
        rows.append(
            f'<tr><th scope="row">{text(quarter)}</th>{cell("deploys", str(len(deploys)))}'
            f"{cell('versions', span)}{cell('rollbacks', f'{len(rollbacks)}' + (f': {undone}' if undone else ''))}</tr>"
        )
    return table(
        f"Older events of {text(view.name)}, per quarter", ["quarter", "deploys", "versions", "rollbacks"], rows, True
    )


def _history(view: ProjectView, repository: str) -> list[str]:
    events = list(reversed(view.deploys))
    if not events:
        return ["<p>No deploy yet.</p>"]
    shown, older = events[:EVENTS_SHOWN], events[EVENTS_SHOWN:]
    caption = f"Deploys and rollbacks of {text(view.name)}, newest first"
    if older:
        caption += f" (the newest {len(shown)} of {len(events)})"
    parts = [table(caption, EVENT_HEADERS, [_event_row(view, d, repository) for d in shown], stack=True)]
    if older:
        parts.append(_older_events(view, older))
    return parts


def _blocked(view: ProjectView, repository: str) -> list[str]:
    if view.kind != "image":
        return []
    if not view.blocked:
        return ["<p>No version is blocked.</p>"]
    rows = [
        f'<tr><th scope="row">{version_link(view, b.version)}</th>{cell("since", when(b.since))}'
        f"{cell('by', ('a rollback, ' if b.by_rollback else 'hand, in ') + _change_of(b.commit, repository))}</tr>"
        for b in view.blocked[:LIST_SHOWN]
    ]
    caption = f"Versions of {text(view.name)} blocked now: automation never deploys them again"
    if len(view.blocked) > LIST_SHOWN:
        caption += f" (the newest {LIST_SHOWN} of {len(view.blocked)}; dashboard.json lists all)"
    return [table(caption, ["version", "blocked since", "blocked by"], rows, stack=True)]


def _change_of(commit: str, repository: str) -> str:
    return link(github(repository, "commit", commit), f"commit <code>{text(commit[:7])}</code>")


def _week_label(end: datetime) -> str:
    return f"week to {(end - timedelta(seconds=1)).astimezone(UTC):%m-%d}"


def _trends(view: ProjectView, now: datetime) -> list[str]:
    weeks = view.trend
    labels = [_week_label(w.end) for w in weeks]
    deploys: list[float | None] = [float(w.deploys) for w in weeks]
    lead = [w.lead_time.total_seconds() / 86400 if w.lead_time is not None else None for w in weeks]
    restore = [w.time_to_restore.total_seconds() / 3600 if w.time_to_restore is not None else None for w in weeks]
    rates = [w.failure_rate if view.kind == "image" else None for w in weeks]
    none = "no deploy" if view.kind == "image" else "not counted (PyPI)"
    charts: list[tuple[str, str, list[float | None], list[str]]] = [
        ("deploys", "Deploys per week", deploys, [str(w.deploys) for w in weeks]),
        ("lead", "Lead time for changes (median)", lead, [human_duration(w.lead_time) for w in weeks]),
        ("failures", "Change failure rate", rates, [f"{r:.0%}" if r is not None else none for r in rates]),
        ("restore", "Time to restore (median)", restore, [human_duration(w.time_to_restore) for w in weeks]),
    ]
    months = months_up_to(now)
    counts = Counter(r.date.astimezone(UTC).strftime("%Y-%m") for r in view.releases if r.date)
    charts.append(
        ("cadence", "Releases per month", [float(counts[m]) for m in months], [str(counts[m]) for m in months])
    )
    figures = []
    for key, title, values, words in charts:
        chart_labels = months if key == "cadence" else labels
        chart = trend_bars(f"{view.name}-{key}", f"{view.name}: {title}", chart_labels, values, words)
        uncounted = view.kind != "image" and key in ("failures", "restore")
        caption = title + (" (not counted: a PyPI release is never rolled back)" if uncounted else "")
        figures.append(f"<figure>{chart}<figcaption>{text(caption)}</figcaption></figure>")
    return [f'<div class="trends">{"".join(figures)}</div>']


def months_up_to(now: datetime) -> list[str]:
    """The twelve months up to `now`, oldest first, as YYYY-MM."""
    year, month, months = now.year, now.month, []
    for _ in range(12):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _candidate(c: Candidate) -> str:
    results = [
        f'<span class="{"good" if r.result == "passed" else "bad"}">'
        f"{'✓' if r.result == 'passed' else '✗'} staging {text(r.result)}</span>"
        for r in c.staging[-LIST_SHOWN:]
    ]
    earlier = len(c.staging) - len(results)
    runs = (f'<span class="muted">{earlier} earlier runs</span>, ' if earlier else "") + ", ".join(results)
    return f"rc{c.rc} ({when(c.date)})" + (": " + runs if results else "")


def _release_row(view: ProjectView, release: Release, repository: str) -> str:
    version = text(release.version)
    if release.tag:
        version = link(github(repository, "releases", "tag", release.tag), version)
    if release.blocked:
        version += ' <span class="bad badge">blocked</span>'
    newest = release.candidates[-LIST_SHOWN:]
    earlier = len(release.candidates) - len(newest)
    rcs = (f'<span class="muted">{earlier} earlier RCs</span><br>' if earlier else "") + "<br>".join(
        _candidate(c) for c in newest
    ) or "—"
    build_to_staging, staging_to_release, release_to_deploy = release.stages
    deploy = human_duration(release_to_deploy) if view.kind == "image" else "at release (PyPI)"
    details = "—"
    if release.tag:
        items = "".join(
            f"<li>{text(a.label)}: <code>{text(a.value)}</code></li>" for a in release.artifacts[:LIST_SHOWN]
        )
        if len(release.artifacts) > LIST_SHOWN:
            items += f'<li class="muted">+{len(release.artifacts) - LIST_SHOWN} more (dashboard.json lists all)</li>'

        details = (
            f"<details><summary>{len(release.artifacts)} {'digests' if view.kind == 'image' else 'files'}"
            f"</summary><ul>{items}</ul><pre>{text(verification(view, release, repository))}</pre></details>"
        )
    return (
        f'<tr id="{text(anchor(view.name, release.version))}" data-release="{text(view.name)}-{text(release.version)}">'
        f'<th scope="row">{version}</th>{cell("RCs and staging", rcs)}{cell("released", when(release.date))}'
        f"{cell('first RC to release', human_duration(release.rc_to_release))}"
        f"{cell('build to staging', human_duration(build_to_staging))}"
        f"{cell('staging to release', human_duration(staging_to_release))}"
        f"{cell('release to deploy', deploy)}{cell('verify', details)}</tr>"
    )


def _older_releases(view: ProjectView, older: list[Release], repository: str) -> str:
    years: dict[str, list[str]] = {}
    for release in older:
        day = release.date or (release.candidates[-1].date if release.candidates else None)
        year = day.astimezone(UTC).strftime("%Y") if day else "undated"
        label = text(release.version)
        if release.tag:
            label = link(github(repository, "releases", "tag", release.tag), label)
        blocked = ", blocked" if release.blocked else ""
        years.setdefault(year, []).append(
            f'<li id="{text(anchor(view.name, release.version))}">{label} '
            f"{day.astimezone(UTC):%Y-%m-%d}, {len(release.candidates)} RC{'' if len(release.candidates) == 1 else 's'}"
            f"{blocked}</li>"
            if day
            else f'<li id="{text(anchor(view.name, release.version))}">{label}{blocked}</li>'
        )
    return "".join(
        f"<details><summary>{text(year)}: {len(items)} older release{'s' if len(items) != 1 else ''}</summary>"
        f'<ul class="older">{"".join(items)}</ul></details>'
        for year, items in years.items()
    )


def _releases(view: ProjectView, repository: str) -> list[str]:
    shown, older = list(view.releases[:RELEASES_SHOWN]), list(view.releases[RELEASES_SHOWN:])
    headers = [
        "version",
        "RCs and staging",
        "released",
        "first RC to release",
        "build to staging",
        "staging to release",
        "release to deploy",
        f"{'digests' if view.kind == 'image' else 'files'} and verification",
    ]
    caption = f"Releases of {text(view.name)} and their RC pipeline, newest first"
    if older:
        caption += f" (the newest {len(shown)} of {len(view.releases)}; older ones below)"
    rows = [_release_row(view, r, repository) for r in shown]
    return [table(caption, headers, rows, stack=True), _older_releases(view, older, repository) if older else ""]


def _benchmark_chart(view: ProjectView) -> str:
    labels = [p.label.removeprefix(f"{view.name}-v") for p in view.benchmarks]
    names = sorted({name for p in view.benchmarks for name, _ in p.medians})
    series = [(name, [dict(p.medians).get(name) for p in view.benchmarks]) for name in names]
    scaled = [(name, [v * 1e3 if v is not None else None for v in values]) for name, values in series]
    return line_chart(f"bench-{view.name}", f"{view.name}: benchmark medians per RC build (ms)", labels, scaled, " ms")


def project_section(view: ProjectView, repository: str, now: datetime) -> list[str]:
    """The section of one project, with the project's name as its link target."""
    name = text(view.name)
    parts = [f'<section id="{name}" aria-labelledby="{name}-heading"><h2 id="{name}-heading">{name}</h2>']
    parts += ["<h3>Deploy history</h3>", *_history(view, repository), *_blocked(view, repository)]
    parts += ["<h3>Trends, week by week</h3>", *_trends(view, now)]
    if view.benchmarks:
        parts += ["<h3>Benchmark trend</h3>", _benchmark_chart(view)]
    parts += ["<h3>Releases and their RC pipeline</h3>", *_releases(view, repository), "</section>"]
    return parts
