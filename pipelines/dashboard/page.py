"""The dashboard as one self-contained HTML page: inline CSS, inline SVG charts, no script, no request.

A Content-Security-Policy of `default-src 'none'` (inline styles only) makes the browser refuse any
request the page might still try. Every value from outside (tag names, commit data, record fields) is
escaped with `html.escape`; the only links are to the repository's GitHub releases and Actions runs.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from html import escape

from pipelines.core.catalog import get_project
from pipelines.core.tags import parse_tag
from pipelines.dashboard.charts import bar_chart, line_chart
from pipelines.dashboard.metrics import human_duration
from pipelines.dashboard.model import Dashboard, ProjectView, Release
from pipelines.notes.verification import COMMIT_PLACEHOLDER, verification_of

CSP = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;
color:#1a1a1a;background:#fff;line-height:1.45}
h1,h2,h3{line-height:1.2}h2{border-bottom:2px solid #1f5f99;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border:1px solid #bbb;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#e8eef5}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:.85em;word-break:break-all}pre{white-space:pre-wrap;background:#f3f3f3;padding:.5rem}
.failed{color:#a3111a;font-weight:600}.passed{color:#1d5e1d;font-weight:600}.chart{width:100%;max-width:40rem;height:auto}
a{color:#0b4f8a}.muted{color:#555}
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    utc = value.astimezone(UTC)  # git keeps each author's offset; the page speaks UTC throughout
    return f'<time datetime="{_text(utc.isoformat())}">{_text(utc.strftime("%Y-%m-%d %H:%M"))} UTC</time>'


def _release_url(repository: str, tag: str) -> str:
    return f"https://github.com/{repository}/releases/tag/{tag}"


def _short(digest: str | None) -> str:
    if not digest:
        return "—"
    return f'<code title="{_text(digest)}">{_text(digest[:19])}…</code>'


def verification(view: ProjectView, release: Release, repository: str) -> str:
    """The commands that check a release's signatures, in the release notes' own form
    (pipelines/notes/verification.py; the notes add the SBOM attestations, sums and PyPI's copy).

    An image release names its images by the digests the stack file pinned, when it has them; a wheel release
    by its file names only (the files recorded for it may be its RC's, whose names and sums differ).
    """
    tag = parse_tag(str(release.tag))
    record = None
    digests = {artifact.label: artifact.value for artifact in release.artifacts}
    if view.kind == "image" and "index" in digests:
        index = digests.pop("index")
        record = {"repository": get_project(view.name).image_repository(), "index_digest": index, "platforms": digests}
    checks = verification_of(tag, repository, record, release.commit or COMMIT_PLACEHOLDER)
    return "\n".join(checks.signature_commands) if checks else ""


def _where_table(dashboard: Dashboard) -> list[str]:
    rows = [
        "<table><caption>What runs in prod and in staging now</caption><thead><tr>"
        '<th scope="col">project</th><th scope="col">prod version</th><th scope="col">prod digest</th>'
        '<th scope="col">in prod since</th><th scope="col">staging</th></tr></thead><tbody>'
    ]
    for view in dashboard.projects:
        prod = view.prod
        version = f'<span class="prod-version">{_text(prod.version)}</span>' if prod else "not released"
        rows.append(
            f'<tr data-project="{_text(view.name)}"><th scope="row">{_text(view.name)}</th><td>{version}</td>'
            f"<td>{_short(prod.digest) if prod and prod.digest else ('PyPI' if prod else '—')}</td>"
            f"<td>{_when(prod.date if prod else None)}</td><td>{_staging(view)}</td></tr>"
        )
    rows.append("</tbody></table>")
    return rows


def _staging(view: ProjectView) -> str:
    parts = []
    if view.staging is not None:
        run = view.staging
        result = f'<span class="{_text(run.result)}">{_text(run.result)}</span>'
        link = f' (<a href="{_text(run.run_url)}">run</a>)' if run.run_url else ""
        parts.append(f"<code>{_text(run.build)}</code>: {result} at {_when(run.recorded_at)}{link}")
    if view.newest_rc is not None and (view.kind == "wheels" or view.staging is None):
        where = "on TestPyPI" if view.kind == "wheels" else "newest RC, no staging record"
        parts.append(f"{where}: <code>{_text(view.newest_rc.tag)}</code> ({_when(view.newest_rc.date)})")
    return "<br>".join(parts) or "—"


def _dora_table(dashboard: Dashboard) -> list[str]:
    window = dashboard.projects[0].dora.window_days if dashboard.projects else 90
    rows = [
        f"<table><caption>The four DORA keys over the last {window} days</caption><thead><tr>"
        '<th scope="col">project</th><th scope="col">deployment frequency</th><th scope="col">lead time for changes'
        '</th><th scope="col">change failure rate</th><th scope="col">time to restore</th></tr></thead><tbody>'
    ]
    for view in dashboard.projects:
        d = view.dora
        rate = f"{d.failure_rate:.0%} ({d.failed} of {d.deploys})" if d.failure_rate is not None else "— (no deploy)"
        rows.append(
            f'<tr data-project="{_text(view.name)}"><th scope="row">{_text(view.name)}</th>'
            f'<td class="dora-frequency">{d.deploys} deploy{"" if d.deploys == 1 else "s"} '
            f"({d.per_week:.2f} per week)</td>"
            f'<td class="dora-lead-time">{human_duration(d.lead_time)}</td>'
            f'<td class="dora-failure-rate">{rate}</td>'
            f'<td class="dora-restore">{human_duration(d.time_to_restore)} ({d.restores} restored)</td></tr>'
        )
    rows.append("</tbody></table>")
    return rows


def _cadence_chart(dashboard: Dashboard) -> str:
    """Releases per month over the twelve months up to the page's date, all projects together."""
    end = dashboard.generated
    months = []
    year, month = end.year, end.month
    for _ in range(12):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    months.reverse()
    counts = Counter(
        r.date.astimezone(UTC).strftime("%Y-%m") for view in dashboard.projects for r in view.releases if r.date
    )
    return bar_chart("cadence", "Releases per month (all projects)", months, [counts[m] for m in months], "")


def _release_rows(view: ProjectView, repository: str) -> list[str]:
    rows = [
        f"<table><caption>Releases of {_text(view.name)}, newest first</caption><thead><tr>"
        '<th scope="col">version</th><th scope="col">release candidates</th><th scope="col">released</th>'
        '<th scope="col">first RC to release</th><th scope="col">release to deploy</th>'
        f'<th scope="col">{"digests" if view.kind == "image" else "files"} and verification</th></tr></thead><tbody>'
    ]
    for release in view.releases:
        version = _text(release.version)
        if release.tag:
            version = f'<a href="{_text(_release_url(repository, release.tag))}">{version}</a>'
        if release.blocked:
            version += ' <span class="failed">blocked</span>'
        rcs = ", ".join(f"rc{c.rc} ({_when(c.date)})" for c in release.candidates) or "—"
        deploy = human_duration(release.release_to_deploy) if view.kind == "image" else "at release (PyPI)"
        details = "—"
        if release.tag:
            items = "".join(f"<li>{_text(a.label)}: <code>{_text(a.value)}</code></li>" for a in release.artifacts)
            details = (
                f"<details><summary>{len(release.artifacts)} {'digests' if view.kind == 'image' else 'files'}"
                f"</summary><ul>{items}</ul><pre>{_text(verification(view, release, repository))}</pre></details>"
            )
        rows.append(
            f'<tr data-release="{_text(view.name)}-{_text(release.version)}"><th scope="row">{version}</th>'
            f"<td>{rcs}</td><td>{_when(release.date)}</td>"
            f"<td>{human_duration(release.rc_to_release)}</td><td>{deploy}</td><td>{details}</td></tr>"
        )
    rows.append("</tbody></table>")
    return rows


def _lead_chart(view: ProjectView) -> str:
    released = [r for r in reversed(view.releases) if r.rc_to_release is not None][-20:]
    if not released:
        return "<p>No release with a release candidate yet.</p>"
    days = [(r.rc_to_release or timedelta(0)).total_seconds() / 86400 for r in released]
    return bar_chart(
        f"lead-{view.name}",
        f"{view.name}: days from first RC to release, last {len(released)} releases",
        [r.version for r in released],
        days,
        " d",
    )


def _benchmark_chart(view: ProjectView) -> str:
    labels = [p.label.removeprefix(f"{view.name}-v") for p in view.benchmarks]
    names = sorted({name for p in view.benchmarks for name, _ in p.medians})
    series = [(name, [dict(p.medians).get(name) for p in view.benchmarks]) for name in names]
    scaled = [(name, [v * 1e3 if v is not None else None for v in values]) for name, values in series]
    return line_chart(f"bench-{view.name}", f"{view.name}: benchmark medians per RC build (ms)", labels, scaled, " ms")


def _project_section(view: ProjectView, repository: str) -> list[str]:
    parts = [f'<section id="{_text(view.name)}"><h2>{_text(view.name)}</h2>']
    parts += ["<h3>Lead time from first RC to release</h3>", _lead_chart(view)]
    if view.benchmarks:
        parts += ["<h3>Benchmark trend</h3>", _benchmark_chart(view)]
    parts += ["<h3>Releases</h3>", *_release_rows(view, repository), "</section>"]
    return parts


def render(dashboard: Dashboard) -> str:
    """The page's HTML."""
    repository = dashboard.repository
    body = [
        "<header><h1>Percolate releases</h1>",
        f'<p class="muted">Built {_when(dashboard.generated)} from the history of '
        f"<code>{_text(repository)}</code> (tags, Pulumi.prod.yaml, build and staging records).</p></header>",
        "<main><h2>What runs where</h2>",
        *_where_table(dashboard),
        "<h2>Delivery performance</h2>",
        *_dora_table(dashboard),
        "<h3>Release cadence</h3>",
        _cadence_chart(dashboard),
    ]
    for view in dashboard.projects:
        body += _project_section(view, repository)
    if dashboard.notes:
        body += ["<h2>Skipped input</h2><ul>", *(f"<li>{_text(note)}</li>" for note in dashboard.notes), "</ul>"]
    body.append("</main>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_text(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Percolate releases</title><style>{STYLE}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
