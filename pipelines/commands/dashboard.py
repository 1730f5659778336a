"""`dashboard`: the static release dashboard (index.html and dashboard.json), written all or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command, add_root_option, path_argument, timestamp
from pipelines.commands.checkout import resolve_root
from pipelines.commands.environment import environment, now
from pipelines.core.errors import InputError
from pipelines.core.names import GITHUB_SLUG
from pipelines.output import emit, progress

if TYPE_CHECKING:
    from datetime import datetime


@dataclass(frozen=True)
class DashboardRequest:
    out: Path
    data: Path | None
    repository: str | None
    at: datetime | None
    root: Path | None
    json: bool


def _dashboard(request: DashboardRequest) -> int:
    import json

    from pipelines.dashboard.build import collect, to_json
    from pipelines.dashboard.page import render
    from pipelines.edges.files import atomic_write_texts

    repository = request.repository or environment("GITHUB_REPOSITORY")
    if repository is not None and not GITHUB_SLUG.fullmatch(repository):
        raise InputError(f"--repository {repository!r} is not OWNER/NAME", hint="e.g. percolation-labs/percolate")
    out: Path = request.out
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder", hint="pass the folder to write the site into")
    root = resolve_root(request.root)
    progress(f"reading the history of {root}")
    dashboard = collect(root, request.data, request.at or now(), repository)
    html = render(dashboard)
    data = to_json(dashboard)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    site = [(index, html), (out / "dashboard.json", json.dumps(data, indent=2) + "\n")]
    atomic_write_texts(site)
    for path, _ in site:
        path.chmod(0o644)  # a new file starts private (mkstemp); the site is for everyone to read
    for note in dashboard.notes:
        progress(f"note: {note}")
    summary = {"index": str(index), "bytes": len(html.encode()), "projects": data["projects"], "notes": data["notes"]}
    lines = [f"wrote {index} ({len(html.encode()) // 1024} KB)"]
    for view in dashboard.projects:
        prod = f"{view.prod.version} since {view.prod.date:%Y-%m-%d}" if view.prod else "not released"
        lines.append(f"  {view.name}: prod {prod}; {view.dora.deploys} deploys in {view.dora.window_days} days")
    emit(request.json, summary, "\n".join(lines))
    return 0


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "dashboard",
        summary="write the static release dashboard (GitHub Pages) from the repository's history",
        request=DashboardRequest,
        run=_dashboard,
        description="Write DIR/index.html (one self-contained page: no script, no request leaves it) and\n"
        "DIR/dashboard.json from the repository itself: release and RC tags, the history of\n"
        "Pulumi.prod.yaml (deploys, rollbacks, blocked versions) and, with --data, the build records,\n"
        "staging records and benchmark results found in that folder. Per project: what runs in prod\n"
        "and staging, every release with its RCs, digests or files and verification commands, lead\n"
        "times, the four DORA keys over 90 days, and percolate-rocks' benchmark trend.\n"
        "Both files are replaced together or not at all. Needs the full history and tags\n"
        "(`git fetch --tags --unshallow` in a shallow clone). See docs/dashboard.md.",
        examples="  python -m pipelines dashboard --out site\n"
        "  python -m pipelines dashboard --out site --data records --at 2025-11-20T12:00:00Z --json",
    )
    parser.add_argument("--out", type=path_argument, required=True, metavar="DIR", help="the folder to write into")
    parser.add_argument(
        "--data", type=path_argument, metavar="DIR", help="build records, staging records and benchmark JSON"
    )
    parser.add_argument(
        "--repository",
        metavar="OWNER/NAME",
        help="the GitHub repository the links point to (default: $GITHUB_REPOSITORY, else the stack file's)",
    )
    parser.add_argument(
        "--at", type=timestamp, metavar="ISO8601", help="the page's 'now': the end of the DORA window (default: now)"
    )
    add_root_option(parser)
