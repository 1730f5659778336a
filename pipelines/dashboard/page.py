"""The dashboard as one self-contained HTML page: inline CSS, inline SVG charts, no script, no request.

A Content-Security-Policy of `default-src 'none'` (inline styles only) makes the browser refuse any
request the page might still try. Every value from outside (tag names, commit data, record fields) is
escaped (`html.text`); the only links are to the repository on GitHub, DORA's report, and within the page.
The stylesheet follows the reader's light or dark setting, stacks wide tables into cards on a phone, and
never lets colour carry a meaning alone: every result and level is also a word or a sign.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC

from pipelines.dashboard.charts import bar_chart
from pipelines.dashboard.html import cell, link, listed, run_link, short, table, text, when
from pipelines.dashboard.levels import KEYS, REPORT, REPORT_BY, REPORT_URL, TABLE, rate
from pipelines.dashboard.metrics import human_duration
from pipelines.dashboard.model import Dashboard, ProjectView
from pipelines.dashboard.sections import latest_events, months_up_to, project_section, version_link

CSP = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = """
:root{color-scheme:light dark;--fg:#1a1a1a;--bg:#fff;--muted:#4d4d4d;--line:#b3b3b3;--head:#e8eef5;--accent:#1f5f99;
--link:#0b4f8a;--bad:#a3111a;--good:#1d5e1d;--code:#f3f3f3;--s0:#1f5f99;--s1:#a3411a;--s2:#2d6a2d;--s3:#6b3fa0}
@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#15181c;--muted:#b8bec6;--line:#4b525a;--head:#24303c;
--accent:#7fb6ea;--link:#93c7ff;--bad:#ff9189;--good:#86d993;--code:#20252b;--s0:#7fb6ea;--s1:#f2a679;--s2:#8fd39a;
--s3:#cdaaf5}}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:72rem;padding:1rem;
color:var(--fg);background:var(--bg);line-height:1.45}
h1,h2,h3{line-height:1.2}h2{border-bottom:2px solid var(--accent);padding-bottom:.2rem;margin-top:2.2rem}
a{color:var(--link)}.muted{color:var(--muted)}nav ul{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;padding:0;
list-style:none}.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
caption{text-align:left;font-weight:600;padding:.2rem 0}th,td{border:1px solid var(--line);padding:.3rem .5rem;
text-align:left;vertical-align:top}thead th{background:var(--head)}code,pre{font-family:ui-monospace,Menlo,Consolas,
monospace;font-size:.85em;word-break:break-all}pre{white-space:pre-wrap;background:var(--code);padding:.5rem}
.bad,.failed{color:var(--bad);font-weight:600;white-space:nowrap}.passed{color:var(--good);font-weight:600}
.badge{border:1px solid;border-radius:.3rem;padding:0 .25rem;
font-size:.85em;white-space:nowrap}.good{color:var(--good);font-weight:600}.level{font-weight:600;
white-space:nowrap}.level-elite::before{content:"★★★ "}.level-high::before{content:"★★☆ "}
.level-medium::before{content:"★☆☆ "}.level-low::before{content:"☆☆☆ "}tr.rollback{background:var(--code)}
.chart{width:100%;max-width:40rem;height:auto}.spark{width:100%;height:auto}svg text{fill:var(--muted);
font-size:11px;font-family:inherit}.axis{stroke:var(--muted)}.bar{fill:var(--accent)}.none{fill:var(--muted)}
.s0{stroke:var(--s0);fill:var(--s0)}.s1{stroke:var(--s1);fill:var(--s1)}.s2{stroke:var(--s2);fill:var(--s2)}
.s3{stroke:var(--s3);fill:var(--s3)}polyline{fill:none}.trends{display:grid;gap:.8rem 1.2rem;
grid-template-columns:repeat(auto-fill,minmax(14rem,1fr))}figure{margin:0}figcaption{font-size:.9em}
ul.older{columns:14rem;font-size:.9em}details{margin:.3rem 0}
time,.digest,.dora-lead-time,.dora-failure-rate{white-space:nowrap}
@media (max-width:40rem){body{padding:.6rem}table.stack thead{display:none}table.stack,table.stack tbody,
table.stack tr,table.stack td,table.stack th,table.stack caption{display:block;width:auto}
table.stack tr{border:1px solid var(--line);margin-bottom:.6rem}
table.stack td,table.stack th{border:0;border-top:1px solid var(--line)}
table.stack td[data-label]::before{content:attr(data-label) ": ";font-weight:600}
#where+.scroll td:nth-of-type(1)::before{content:"prod version: ";font-weight:600}
table.stack td.dora-frequency::before{content:"deployment frequency: ";font-weight:600}
table.stack td.dora-lead-time::before{content:"lead time for changes: ";font-weight:600}
table.stack td.dora-failure-rate::before{content:"change failure rate: ";font-weight:600}
table.stack td.dora-restore::before{content:"failed deployment recovery time: ";font-weight:600}}
"""
ROLLED_BACK = ' <span class="bad">↩ rollback</span>'
CLASSES = {
    "deployment_frequency": "dora-frequency",
    "lead_time": "dora-lead-time",
    "change_failure_rate": "dora-failure-rate",
    "time_to_restore": "dora-restore",
}
KEY_NAMES = {
    "deployment_frequency": "deployment frequency",
    "lead_time": "lead time for changes",
    "change_failure_rate": "change failure rate",
    "time_to_restore": "failed deployment recovery time",
}


def _level(level: str | None, why: str = "not rated") -> str:
    if level is None:
        return f'<span class="muted">{why}</span>'
    return f'<span class="level level-{level}">{level}</span>'


def _where_table(dashboard: Dashboard) -> str:
    rows = []
    for view in dashboard.projects:
        prod = view.prod
        version = f'<span class="prod-version">{text(prod.version)}</span>' if prod else "not released"
        blocked = listed([version_link(view, b.version) for b in view.blocked])
        since = when(prod.date if prod else None) + (ROLLED_BACK if prod and prod.rollback else "")
        rows.append(
            f'<tr data-project="{text(view.name)}"><th scope="row">{text(view.name)}</th><td>{version}</td>'
            f"{cell('prod digest', short(prod.digest) if prod and prod.digest else ('PyPI' if prod else '—'))}"
            f"{cell('in prod since', since)}"
            f"{cell('staging', _staging(view, dashboard.repository))}"
            f"{cell('blocked', blocked or '—')}</tr>"
        )
    headers = ["project", "prod version", "prod digest", "in prod since", "staging", "blocked"]
    return table("What runs in prod and in staging now", headers, rows, stack=True)


def _staging(view: ProjectView, repository: str) -> str:
    parts = []
    if view.staging is not None:
        run = view.staging
        result = f'<span class="{text(run.result)}">{text(run.result)}</span>'
        url = f" ({run_link(run.run_url, repository)})" if run.run_url else ""
        parts.append(f"<code>{text(run.build)}</code>: {result} at {when(run.recorded_at)}{url}")
    if view.newest_rc is not None and (view.kind == "wheels" or view.staging is None):
        where = "on TestPyPI" if view.kind == "wheels" else "newest RC, no staging record"
        parts.append(f"{where}: <code>{text(view.newest_rc.tag)}</code> ({when(view.newest_rc.date)})")
    return "<br>".join(parts) or "—"


def _dora_table(dashboard: Dashboard) -> str:
    window = dashboard.projects[0].dora.window_days if dashboard.projects else 90
    rows = []
    for view in dashboard.projects:
        d = view.dora
        levels = rate(d, can_roll_back=view.kind == "image")
        cannot = "not rated (no rollback on PyPI)"
        rate_text = (
            f"{d.failure_rate:.0%} ({d.failed} of {d.deploys})" if d.failure_rate is not None else "— (no deploy)"
        )
        values = {
            "deployment_frequency": f"{d.deploys} deploy{'' if d.deploys == 1 else 's'} ({d.per_week:.2f} per week)",
            "lead_time": human_duration(d.lead_time),
            "change_failure_rate": rate_text,
            "time_to_restore": f"{human_duration(d.time_to_restore)} ({d.restores} restored)",
        }
        cells = "".join(
            f'<td class="{CLASSES[key]}">{values[key]}</td><td data-label="level">'
            f"{_level(levels[key], cannot if view.kind != 'image' and key in KEYS[2:] else 'not rated')}</td>"
            for key in KEYS
        )
        rows.append(
            f'<tr data-project="{text(view.name)}"><th scope="row"><a href="#{text(view.name)}">{text(view.name)}</a>'
            f"</th>{cells}</tr>"
        )
    caption = (
        f'The four DORA keys over the last {window} days, each rated against <a href="#levels">DORA\'s 2024 '
        "performance levels</a>"
    )
    head = (
        '<colgroup span="1"></colgroup>' + '<colgroup span="2"></colgroup>' * len(KEYS) + '<thead><tr><th scope="col">'
        "project</th>"
        + "".join(f'<th scope="colgroup" colspan="2">{KEY_NAMES[key]} and level</th>' for key in KEYS)
        + "</tr></thead>"
    )
    return table(caption, [], rows, stack=True, head=head)


def _levels_table() -> str:
    rows = [
        f'<tr><th scope="row">{_level(row.level)}</th>'
        + "".join(cell(KEY_NAMES[key], text(getattr(row, key).words)) for key in KEYS)
        + "</tr>"
        for row in TABLE
    ]
    caption = f"Software delivery performance levels, from {link(REPORT_URL, text(REPORT))} by {text(REPORT_BY)}"
    return table(caption, ["level", *(KEY_NAMES[key] for key in KEYS)], rows, stack=True) + (
        "<p>How a key is rated: the best level, elite first, whose bound it meets. The report's bounds overlap: "
        "medium's change failure rate (10%) is better than high's (20%) and medium's recovery time is high's "
        "(less than one day), so neither key is ever rated medium; a recovery between one day and one week, "
        "which no level covers, is rated low. The 2025 report groups teams into seven archetypes and, as far as we "
        "found, publishes no such levels, so the 2024 table is the newest. A project that cannot roll back "
        "(percolate-rocks on PyPI) is not rated on the two stability keys.</p>"
    )


def _cadence_chart(dashboard: Dashboard) -> str:
    """Releases per month over the twelve months up to the page's date, all projects together."""
    months = months_up_to(dashboard.generated)
    counts = Counter(
        r.date.astimezone(UTC).strftime("%Y-%m") for view in dashboard.projects for r in view.releases if r.date
    )
    return bar_chart("cadence", "Releases per month (all projects)", months, [counts[m] for m in months], "")


def render(dashboard: Dashboard) -> str:
    """The page's HTML."""
    repository = dashboard.repository
    nav = "".join(f'<li><a href="#{text(v.name)}">{text(v.name)}</a></li>' for v in dashboard.projects)
    body = [
        "<header><h1>Percolate releases</h1>",
        f'<p class="muted">Built {when(dashboard.generated)} from the history of '
        f"<code>{text(repository)}</code> (tags, Pulumi.prod.yaml, build and staging records).</p>",
        '<nav aria-label="sections"><ul><li><a href="#where">what runs where, what happened</a></li>'
        f'<li><a href="#delivery">delivery performance</a></li>{nav}<li><a href="#levels">DORA levels</a></li>'
        "</ul></nav></header>",
        '<main><h2 id="where">What runs where</h2>',
        _where_table(dashboard),
        latest_events(dashboard.projects, repository),
        '<h2 id="delivery">Delivery performance</h2>',
        _dora_table(dashboard),
        "<h3>Release cadence, all projects</h3>",
        _cadence_chart(dashboard),
    ]
    for view in dashboard.projects:
        body += project_section(view, repository, dashboard.generated)
    body += ['<h2 id="levels">DORA performance levels</h2>', _levels_table()]
    if dashboard.notes:
        body += ["<h2>Skipped input</h2><ul>", *(f"<li>{text(note)}</li>" for note in dashboard.notes), "</ul>"]
    body.append(
        f'</main><footer><p class="muted">Levels: {link(REPORT_URL, text(REPORT))}, {text(REPORT_BY)}. '
        "Definitions: docs/dashboard.md.</p></footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{text(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>Percolate releases</title><style>{STYLE}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
