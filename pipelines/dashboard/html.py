"""Small HTML pieces every part of the page shares: escaping, times, durations, links and table frames.

Every value from outside (tag names, commit data, record fields) passes through `text` before it reaches
the page: control, format and bidirectional characters shown as escapes (`\\u202e`: the CLI output's
`core.untrusted.neutralise`, one rule for what a reader must see), then `html.escape`, quotes included.
Links are built only to the repository on GitHub.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from pipelines.core.untrusted import neutralise


def text(value: object) -> str:
    """`value` as page text: invisible or reordering characters made visible, then HTML-escaped."""
    return escape(neutralise(str(value)), quote=True)


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    utc = value.astimezone(UTC)  # git keeps each author's offset; the page speaks UTC throughout
    return f'<time datetime="{text(utc.isoformat())}">{text(utc.strftime("%Y-%m-%d %H:%M"))} UTC</time>'


def link(url: str, label: str) -> str:
    """A link to `url` (built here from the repository and escaped values) with an already escaped label."""
    return f'<a href="{text(url)}">{label}</a>'


def github(repository: str, *path: str) -> str:
    return "/".join(("https://github.com", repository, *path))


def run_link(url: str, repository: str) -> str:
    """A staging record's run: a link when it is a run of `repository` on GitHub Actions
    (`https://github.com/OWNER/NAME/actions/runs/DIGITS…`), else the address as text: a record may name any
    host, and the page links to nowhere else."""
    prefix = github(repository, "actions", "runs", "")
    rest = url.removeprefix(prefix)
    if rest != url and re.fullmatch(r"[0-9]{1,20}(?:/[A-Za-z0-9/_-]*)?", rest):
        return link(url, "run")
    return f"run <code>{text(url)}</code>"


def short(digest: str | None) -> str:
    if not digest:
        return "—"
    return f'<code class="digest" title="{text(digest)}">{text(digest[:19])}…</code>'


def table(caption: str, headers: Sequence[str], rows: Sequence[str], stack: bool = False, head: str = "") -> str:
    """A table with a caption and column headers (`scope="col"`, or `head`: column groups and the header
    row as they are) around `rows` (each a whole `<tr>`); a `stack` table shows each row as a card on a
    narrow screen (its cells carry `data-label`, or the stylesheet names them)."""
    head = head or "<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in headers) + "</tr></thead>"
    kind = ' class="stack"' if stack else ""
    return (
        f'<div class="scroll"><table{kind}><caption>{caption}</caption>{head}'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


LIST_SHOWN = 12  # the items one row lists before "+N more" (a commit may block thousands of versions)


def listed(items: Sequence[str], separator: str = ", ", shown: int = LIST_SHOWN) -> str:
    """Already escaped `items` joined, the first `shown` of them, then how many more there are."""
    more = len(items) - shown
    return separator.join(items[:shown]) + (f'{separator}<span class="muted">+{more} more</span>' if more > 0 else "")


def cell(label: str, content: str) -> str:
    """A data cell that names its column on a narrow screen."""
    return f'<td data-label="{label}">{content}</td>'
