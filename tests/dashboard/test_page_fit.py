"""The page read as people read it (issue 25, items 5 and 6): link targets for every project and release,
tables with captions and header cells, no meaning in colour alone, a dark scheme that follows the reader's
setting, a phone layout; headless Chromium at a phone's and a desktop's width, light and dark. And the
page of 1,000 releases over three years within 400 KB, every release still a link target.
"""

from __future__ import annotations

import re
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from pipelines.dashboard.build import assemble
from pipelines.dashboard.data import Records
from pipelines.dashboard.page import STYLE, render
from pipelines.edges.git_history import FileVersion, TagRef
from tests.dashboard.conftest import stack_file
from tests.support.browser import browser


class Structure(HTMLParser):
    """Ids, tables (caption and header cells), and the text of every element whose class gives it a colour."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tables: list[dict[str, object]] = []
        self.coloured: list[list[str]] = []
        self.open: list[tuple[str, list[str] | None]] = []
        self.in_head = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"] or "")
        if tag == "table":
            self.tables.append({"caption": False, "col_headers": 0, "unscoped": 0})
        elif tag == "caption":
            self.tables[-1]["caption"] = True
        elif tag == "thead":
            self.in_head = True
        elif tag == "th" and self.tables:
            table = self.tables[-1]
            scope = attributes.get("scope")
            table["col_headers"] = int(table["col_headers"]) + (scope in ("col", "colgroup"))
            table["unscoped"] = int(table["unscoped"]) + (scope not in ("col", "colgroup", "row"))
        if tag not in ("br", "meta", "img", "line", "rect", "circle", "path"):
            classes = (attributes.get("class") or "").split()
            words = [] if {"bad", "good", "passed", "failed", "level"} & set(classes) else None
            self.open.append((tag, words))

    def handle_endtag(self, tag):
        if tag == "thead":
            self.in_head = False
        while self.open:
            name, words = self.open.pop()
            if words is not None:
                self.coloured.append(words)
            if name == tag:
                break

    def handle_data(self, data):
        for _, words in self.open:
            if words is not None:
                words.append(data)


def structure(html: str) -> Structure:
    parsed = Structure()
    parsed.feed(html)
    return parsed


def test_every_project_and_release_is_a_link_target(site):
    out, _ = site
    ids = structure((out / "index.html").read_text()).ids
    assert len(ids) == len(set(ids))
    for project in ("percolate", "percolate-reading", "percolate-rocks"):
        assert project in ids
    for tag in ("percolate-v0.1.0", "percolate-v0.3.0", "percolate-reading-v0.1.2", "percolate-rocks-v0.2.0"):
        assert tag in ids


def test_tables_have_captions_and_header_cells(site):
    out, _ = site
    tables = structure((out / "index.html").read_text()).tables
    assert len(tables) >= 10
    assert all(t["caption"] and int(t["col_headers"]) >= 3 and t["unscoped"] == 0 for t in tables)


def test_colour_never_carries_a_meaning_alone(site):
    out, _ = site
    words = {" ".join("".join(parts).split()) for parts in structure((out / "index.html").read_text()).coloured}
    assert words == {
        "elite",
        "high",
        "medium",
        "low",
        "↩ rollback",
        "rolled back",
        "blocked",
        "failed",
        "✓ staging passed",
        "✗ staging failed",
    }


def test_the_stylesheet_follows_the_readers_scheme_and_stacks_tables_on_a_phone():
    assert "@media (prefers-color-scheme:dark)" in STYLE and "color-scheme:light dark" in STYLE
    assert "@media (max-width:40rem)" in STYLE and 'content:attr(data-label) ": "' in STYLE


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_in_chromium_at_a_phones_and_a_desktops_width(site, tmp_path, width):
    out, _ = site
    url = (out / "index.html").as_uri()
    base = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    shots = {}
    for scheme, flags in (("light", []), ("dark", ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"])):
        shot = tmp_path / f"{scheme}.png"
        profile = f"--user-data-dir={tmp_path / scheme}"
        command = [*base, profile, *flags, f"--window-size={width},1600", f"--screenshot={shot}", url]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        shots[scheme] = shot.read_bytes()
        assert png_size(shots[scheme]) == (width, 1600) and len(shots[scheme]) > 20_000
    assert shots["light"] != shots["dark"]  # the dark scheme is drawn, not the light one again


def three_years() -> tuple[list[TagRef], list[FileVersion]]:
    """1,000 releases over three years, two RCs each, image releases deployed; every 25th rolled back."""
    start, step = datetime(2023, 11, 1, tzinfo=UTC), timedelta(days=3 * 365) / 1000
    tags, versions = [], []
    pins: dict[str, str | None] = {"percolate": None, "percolate-reading": None}
    blocked: list[str] = []
    for number in range(1000):
        day = start + number * step
        project = ("percolate", "percolate-reading", "percolate-rocks")[number % 3]
        version = f"1.{number // 3}.0"
        for rc in (1, 2):
            tags.append(TagRef(f"{project}-v{version}-rc{rc}", day + timedelta(hours=rc), "f" * 40, day))
        tags.append(TagRef(f"{project}-v{version}", day + timedelta(hours=3), "f" * 40, day))
        if project in pins:
            before, pins[project] = pins[project], version
            text = stack_file(pins["percolate"], pins["percolate-reading"], blocked)
            versions.append(FileVersion(f"{number:040x}", day + timedelta(hours=4), f"deploy (#{number})", text))
            if project == "percolate" and number % 25 == 0 and before is not None:
                blocked.append(version)
                pins[project] = before
                text = stack_file(pins["percolate"], pins["percolate-reading"], blocked)
                versions.append(FileVersion(f"{number:039x}f", day + timedelta(hours=5), "rollback", text))
    return tags, versions


def test_three_years_of_releases_stay_within_400_kb():
    tags, versions = three_years()
    html = render(assemble(tags, versions, Records(), datetime(2026, 11, 1, tzinfo=UTC)))
    assert 100_000 < len(html.encode()) <= 400 * 1024
    ids = set(structure(html).ids)
    assert {"percolate-v1.0.0", "percolate-reading-v1.0.0", "percolate-rocks-v1.0.0", "percolate-v1.332.0"} <= ids
    rollbacks = len(re.findall(r"→ <a|→ 1\.", html))  # in the full history and in the per-quarter summary
    assert rollbacks == 13  # percolate's releases numbered 75, 150, …, 975 (0 had nothing to roll back to)
