"""The dashboard of the scripted history (conftest.py tells the story): every number on the page checked
exactly, the page opened in headless Chromium, and the rules that keep it self-contained and safe."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import yaml
from hypothesis import given
from hypothesis import strategies as st

from pipelines.dashboard.build import assemble
from pipelines.dashboard.data import Records
from pipelines.dashboard.history import stack_history
from pipelines.dashboard.model import Candidate
from pipelines.dashboard.page import render
from pipelines.edges.git_history import FileVersion, TagRef
from tests.dashboard.conftest import NOW, REPOSITORY, digest_of, stack_file
from tests.support.browser import browser


class Cells(HTMLParser):
    """The text of each cell of each `<tr data-project>` row, per table, and every src/href by tag."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, list[str]]] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.references: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href", "xlink:href", "srcset", "poster", "data"):
            if attributes.get(name) is not None:
                self.references.append((tag, name, attributes[name]))
        if tag == "table":
            self.tables.append({})
        elif tag == "tr" and ("data-project" in attributes or "data-release" in attributes):
            self.row = []
            self.tables[-1][attributes.get("data-project") or attributes["data-release"]] = self.row
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def cells(html: str) -> Cells:
    parser = Cells()
    parser.feed(html)
    return parser


def test_what_runs_where(site):
    out, _ = site
    where = cells((out / "index.html").read_text()).tables[0]
    assert where["percolate"] == [
        "percolate",
        "0.3.1",
        f"{digest_of('percolate', '0.3.1')[:19]}…",
        "2025-10-22 06:00 UTC",
        "newest RC, no staging record: percolate-v0.3.1-rc1 (2025-10-20 08:00 UTC)",
        "0.3.0",
    ]
    assert where["percolate-reading"][1:4] == [
        "0.1.0",
        f"{digest_of('percolate-reading', '0.1.0')[:19]}…",
        "2025-10-14 13:00 UTC ↩ rollback",  # the second rollback put 0.1.0 back
    ]
    assert where["percolate-reading"][5] == "0.1.1, 0.1.2"
    assert (
        where["percolate-reading"][4] == "2025.11.25.0900-build.9-v0.2.0-def5678: failed at 2025-11-25 10:00 UTC (run)"
    )
    assert where["percolate-rocks"][1:4] == ["0.2.0", "PyPI", "2025-11-04 10:00 UTC"]
    assert where["percolate-rocks"][4] == "on TestPyPI: percolate-rocks-v0.2.0-rc2 (2025-11-03 10:00 UTC)"


def test_the_four_dora_keys(site):
    out, _ = site
    dora = cells((out / "index.html").read_text()).tables[2]  # after what runs where and the newest events
    # Each value with its DORA 2024 level: 3 deploys in 90 days is once a month exactly (medium), 2 is less
    # (low); a lead time of 1 to 7 days is high, a failure rate of 33% low (over 20%), a restore under a day high.
    assert dora["percolate"] == [
        "percolate",
        "3 deploys (0.23 per week)",
        "medium",
        "2 d 0 h",
        "high",
        "33% (1 of 3)",
        "low",
        "4 h 0 min (1 restored)",
        "high",
    ]
    # 0.1.0, 0.1.1 and 0.1.2 deployed; lead times 25 h, 73 h, 4 h (median 25 h); 0.1.2 failed, and the
    # rollback of its rollback restored it 3 h after its deploy.
    assert dora["percolate-reading"] == [
        "percolate-reading",
        "3 deploys (0.23 per week)",
        "medium",
        "1 d 1 h",
        "high",
        "33% (1 of 3)",
        "low",
        "3 h 0 min (1 restored)",
        "high",
    ]
    never = "not rated (no rollback on PyPI)"
    assert dora["percolate-rocks"] == [
        "percolate-rocks",
        "2 deploys (0.16 per week)",
        "low",
        "3 d 13 h",
        "high",
        "0% (0 of 2)",
        never,
        "— (0 restored)",
        never,
    ]


def test_the_json_carries_the_same_numbers(site):
    out, result = site
    projects = {p["name"]: p for p in json.loads((out / "dashboard.json").read_text())["projects"]}
    assert projects["percolate"]["dora"] == {
        "window_days": 90,
        "deploys": 3,
        "deploys_per_week": 0.233,
        "lead_time_hours": 48.0,
        "failed_deploys": 1,
        "change_failure_rate": 0.3333,
        "time_to_restore_hours": 4.0,
        "levels": {
            "deployment_frequency": "medium",
            "lead_time": "high",
            "change_failure_rate": "low",
            "time_to_restore": "high",
        },
    }
    assert projects["percolate"]["prod"] == {
        "version": "0.3.1",
        "digest": digest_of("percolate", "0.3.1"),
        "since": "2025-10-22T06:00:00+00:00",
    }
    assert result.json()["projects"] == list(projects.values())
    assert result.json()["notes"] == ["stray.json: not a build record, staging record or benchmark results; skipped"]


def test_releases_with_lead_times_blocked_versions_and_artifacts(site):
    out, _ = site
    projects = {p["name"]: p for p in json.loads((out / "dashboard.json").read_text())["projects"]}
    percolate = {r["version"]: r for r in projects["percolate"]["releases"]}
    assert list(percolate) == ["0.3.1", "0.3.0", "0.2.0", "0.1.0"]
    assert (percolate["0.2.0"]["rc_to_release_hours"], percolate["0.2.0"]["release_to_deploy_hours"]) == (48, 24)
    assert (percolate["0.3.0"]["rc_to_release_hours"], percolate["0.3.0"]["release_to_deploy_hours"]) == (24, 23)
    assert [v for v, r in percolate.items() if r["blocked"]] == ["0.3.0"]
    assert percolate["0.3.1"]["artifacts"][0] == {"label": "index", "value": digest_of("percolate", "0.3.1")}
    assert [c["tag"] for c in percolate["0.2.0"]["candidates"]] == ["percolate-v0.2.0-rc1", "percolate-v0.2.0-rc2"]
    rocks = {r["version"]: r for r in projects["percolate-rocks"]["releases"]}
    assert (rocks["0.2.0"]["rc_to_release_hours"], rocks["0.2.0"]["release_to_deploy_hours"]) == (72, None)
    assert rocks["0.2.0"]["artifacts"] == [
        {"label": "percolate_rocks-0.2.0rc2-cp39-abi3-manylinux_2_17_x86_64.whl", "value": "sha256:" + "ab" * 32}
    ]
    reading = {r["version"]: r for r in projects["percolate-reading"]["releases"]}
    assert (
        reading["0.2.0"]["tag"] is None and reading["0.2.0"]["candidates"][0]["tag"] == "percolate-reading-v0.2.0-rc1"
    )


def test_the_release_rows_on_the_page(site):
    out, _ = site
    rows = {key: row for table in cells((out / "index.html").read_text()).tables for key, row in table.items()}
    # version, RCs and staging, released, first RC to release, build to staging, staging to release, release
    # to deploy: percolate has no staging record, so its two middle stages have no time.
    assert rows["percolate-0.2.0"][:7] == [
        "0.2.0",
        "rc1 (2025-09-10 10:00 UTC) rc2 (2025-09-11 10:00 UTC)",
        "2025-09-12 10:00 UTC",
        "2 d 0 h",
        "—",
        "—",
        "1 d 0 h",
    ]
    assert rows["percolate-0.3.0"][0] == "0.3.0 blocked" and rows["percolate-0.3.0"][3:7] == [
        "1 d 0 h",
        "—",
        "—",
        "23 h 0 min",
    ]
    assert rows["percolate-rocks-0.2.0"][3:7] == ["3 d 0 h", "—", "—", "at release (PyPI)"]
    assert rows["percolate-reading-0.2.0"][1:7] == [
        "rc1 (2025-11-25 09:00 UTC): ✗ staging failed",
        "—",
        "—",
        "—",
        "—",
        "—",
    ]


def test_links_verification_and_benchmark_trend_on_the_page(site):
    out, _ = site
    html = (out / "index.html").read_text()
    assert f'href="https://github.com/{REPOSITORY}/releases/tag/percolate-v0.3.1"' in html
    assert f"cosign verify ghcr.io/percolation-labs/percolate@{digest_of('percolate', '0.3.1')}" in html
    assert "release-rocks.yml@refs/tags/percolate-rocks-v0.2.0" in html
    assert "test_core.py::test_parse: 0.2.0-rc1 2 ms, 0.2.0-rc2 3 ms" in html  # the trend chart's description
    assert '<span class="bad badge">blocked</span>' in html


def references_leaving(parsed: Cells) -> list[tuple[str, str, str]]:
    """Every src/href that would make the browser fetch something: anything but a link to follow."""
    return [(tag, name, value) for tag, name, value in parsed.references if not (tag == "a" and name == "href")]


def test_nothing_on_the_page_is_fetched_from_anywhere(site):
    out, _ = site
    html = (out / "index.html").read_text()
    assert references_leaving(cells(html)) == []
    assert "<script" not in html and "@import" not in html and "url(" not in html
    assert "default-src &#x27;none&#x27;" in html


def test_the_reference_check_catches_an_external_stylesheet_and_image():
    """Control: the check above sees what it must refuse."""
    bad = cells(
        '<link rel="stylesheet" href="https://cdn.example/x.css"><img src="https://x/y.png"><a href="https://ok">'
    )
    assert references_leaving(bad) == [("link", "href", "https://cdn.example/x.css"), ("img", "src", "https://x/y.png")]


def test_the_page_in_headless_chromium(site, tmp_path):
    out, _ = site
    url = (out / "index.html").as_uri()
    base = [browser(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    prod = cells(dom).tables[0]
    assert {name: row[1] for name, row in prod.items()} == {
        "percolate-rocks": "0.2.0",
        "percolate-reading": "0.1.0",
        "percolate": "0.3.1",
    }
    assert references_leaving(cells(dom)) == []
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [*base, "--window-size=1200,2400", f"--screenshot={shot}", url],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_untrusted_text_is_escaped(story, tmp_path, cli):
    data = tmp_path / "data"
    shutil.copytree(story.data, data)
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    record = {
        "kind": "staging-record",
        "project": "percolate",
        "build": hostile,
        "result": "passed",
        "recorded_at": "2025-11-29T00:00:00Z",
        "run_url": "javascript:alert(3)",
    }
    (data / "hostile.json").write_text(json.dumps(record))
    (data / "<b>bold.json").write_text("[]")
    out = tmp_path / "site"
    result = cli(
        "dashboard", "--out", str(out), "--root", str(story.root), "--data", str(data), "--at", NOW.isoformat()
    )
    assert result.code == 0, result.stderr
    html = (out / "index.html").read_text()
    assert "<script" not in html and "<img" not in html and "<b>" not in html and 'href="javascript:' not in html
    assert "run <code>javascript:alert(3)</code>" in html  # shown, never linked
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert "&lt;b&gt;bold.json: not a JSON object; skipped" in html


def test_bad_input_leaves_the_site_as_it_was(story, tmp_path, cli):
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("old page")
    for args, problem in (
        (["--data", str(tmp_path / "missing")], "is not a folder"),
        (["--repository", "not a slug"], "is not OWNER/NAME"),
        (["--at", "2025-11-30T00:00:00"], "has no time zone"),
    ):
        result = cli("dashboard", "--out", str(out), "--root", str(story.root), *args)
        assert result.code == 2 and problem in result.stderr and "Traceback" not in result.stderr
    assert (out / "index.html").read_text() == "old page"
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    (tmp_path / "file").write_text("x")
    result = cli("dashboard", "--out", str(tmp_path / "file"), "--root", str(story.root))
    assert result.code == 2 and "is a file, not a folder" in result.stderr


def test_a_stack_file_version_that_does_not_parse_is_a_note_not_a_failure():
    at = datetime(2025, 1, 1, tzinfo=UTC)
    versions = [
        FileVersion("a" * 40, at, "ok", stack_file("0.1.0", None)),
        FileVersion("b" * 40, at + timedelta(hours=1), "broken", "config: [unclosed"),
        FileVersion("c" * 40, at + timedelta(hours=2), "binary", None),
        FileVersion(
            "d" * 40, at + timedelta(hours=3), "bad digest", stack_file("0.2.0", None).replace("sha256:", "md5:", 1)
        ),
        FileVersion("e" * 40, at + timedelta(hours=4), "ok", stack_file("0.2.0", None)),
    ]
    history = stack_history(versions, "Pulumi.prod.yaml")
    assert [(d.version, d.date.hour) for d in history.deploys["percolate"]] == [("0.1.0", 0), ("0.2.0", 4)]
    assert [note.split(" (")[0] for note in history.notes] == [
        "Pulumi.prod.yaml at bbbbbbb does not parse",
        "Pulumi.prod.yaml at ccccccc is not UTF-8 text; skipped",
        "Pulumi.prod.yaml at ddddddd does not parse",
    ]


def year_of_history() -> tuple[list[TagRef], list[FileVersion], Records]:
    """Weekly releases of every project for a year, three RCs each, each image release deployed."""
    start = datetime(2025, 1, 6, tzinfo=UTC)
    tags, versions = [], []
    for week in range(52):
        day = start + timedelta(weeks=week)
        for offset, project in enumerate(("percolate", "percolate-reading", "percolate-rocks")):
            version = f"1.{week}.{offset}"
            for rc in (1, 2, 3):
                tags.append(TagRef(f"{project}-v{version}-rc{rc}", day + timedelta(hours=rc), "f" * 40, day))
            tags.append(TagRef(f"{project}-v{version}", day + timedelta(days=1), "f" * 40, day))
        text = stack_file(f"1.{week}.0", f"1.{week}.1")
        versions.append(FileVersion(f"{week:040x}", day + timedelta(days=2), "deploy", text))
    records = Records()
    for week in range(52):
        records.benchmarks[f"percolate-rocks-v1.{week}.2-rc3"] = tuple((f"b{n}", 0.001 * (n + 1)) for n in range(5))
    return tags, versions, records


def test_a_year_of_history_stays_under_300_kb():
    tags, versions, records = year_of_history()
    dashboard = assemble(tags, versions, records, datetime(2026, 1, 5, tzinfo=UTC))
    html = render(dashboard)
    assert sum(len(p.releases) for p in dashboard.projects) == 156
    assert dashboard.projects[0].benchmarks and len(dashboard.projects[0].benchmarks) == 52
    assert 50_000 < len(html.encode()) < 300_000


def test_the_newest_candidate_is_shown_for_wheels(story):
    from pipelines.dashboard.build import collect

    rocks = collect(story.root, story.data, NOW).projects[0]
    assert rocks.newest_rc == Candidate(
        "percolate-rocks-v0.2.0-rc2", 2, datetime(2025, 11, 3, 10, tzinfo=UTC), rocks.newest_rc.commit
    )


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=10,
)
stack_texts = st.one_of(
    st.text(max_size=80),
    st.builds(lambda images: yaml.safe_dump({"config": {"percolate-platform:images": images}}), yaml_values),
    st.builds(
        lambda entry: yaml.safe_dump({"config": {"percolate-platform:images": {"percolate": entry}}}), yaml_values
    ),
)


@given(st.lists(stack_texts, max_size=4))
def test_any_stack_file_history_gives_deploys_or_notes_never_an_error(texts):
    at = datetime(2025, 1, 1, tzinfo=UTC)
    versions = [FileVersion(f"{n:040x}", at + timedelta(hours=n), "x", text) for n, text in enumerate(texts)]
    history = stack_history(
        [*versions, FileVersion("f" * 40, at + timedelta(days=1), "ok", stack_file("0.1.0", None))], "P"
    )
    assert history.deploys["percolate"][-1].version == "0.1.0"
    assert len(history.notes) <= len(texts)


def test_results_are_attributed_to_the_tag_of_their_folder_or_file_name(tmp_path):
    from pipelines.dashboard.data import read_records
    from tests.dashboard.conftest import benchmark_file

    (tmp_path / "percolate-rocks-v0.3.0-rc2.benchmarks.json").write_text(benchmark_file(1.0))
    (tmp_path / "percolate-rocks-v0.3.0-rc1").mkdir()
    (tmp_path / "percolate-rocks-v0.3.0-rc1" / "benchmarks.json").write_text(benchmark_file(2.0))
    (tmp_path / "unnamed.json").write_text(benchmark_file(1.0))
    records = read_records(tmp_path)
    assert {tag: dict(medians)["benches/test_core.py::test_parse"] for tag, medians in records.benchmarks.items()} == {
        "percolate-rocks-v0.3.0-rc1": 0.004,
        "percolate-rocks-v0.3.0-rc2": 0.002,
    }
    assert records.notes == ["unnamed.json: benchmark results outside a folder named after their tag; skipped"]


def test_times_are_shown_in_utc_whatever_offset_git_kept():
    from datetime import timezone

    from pipelines.dashboard.html import when

    berlin_summer = datetime(2025, 7, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert when(berlin_summer) == '<time datetime="2025-06-30T23:30:00+00:00">2025-06-30 23:30 UTC</time>'


def test_percolate_rocks_staging_comes_from_its_wheel_record(story, tmp_path, cli):
    from pipelines.staging.wheel_record import WheelStagingRecord

    data = tmp_path / "data"
    shutil.copytree(story.data, data)
    record = WheelStagingRecord(
        project="percolate-rocks",
        version="0.2.0rc2",
        result="failed",
        recorded_at="2025-11-03T11:00:00Z",
        run_url="https://github.com/percolation-labs/percolate/actions/runs/7",
        index="https://test.pypi.org/simple/",
        files=(("percolate_rocks-0.2.0rc2.tar.gz", "0" * 64),),
    )
    (data / "percolate-rocks-v0.2.0-rc2").mkdir(exist_ok=True)
    (data / "percolate-rocks-v0.2.0-rc2" / "staging-record.json").write_text(json.dumps(record.to_dict()))
    out = tmp_path / "site"

    result = cli(
        "dashboard", "--out", str(out), "--root", str(story.root), "--data", str(data), "--at", NOW.isoformat()
    )

    assert result.code == 0, result.stderr
    where = cells((out / "index.html").read_text()).tables[0]
    assert "failed" in where["percolate-rocks"][4] and "0.2.0rc2" in where["percolate-rocks"][4]
