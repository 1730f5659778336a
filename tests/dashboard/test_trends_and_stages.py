"""The weekly trend of the DORA keys (item 3) and the RC pipeline of each release (item 4), on the story
(conftest.py) and on hand-made records; every expected number written out by hand.

The trend's 13 weeks end at the page's now, 2025-11-30 00:00: week 0 is (08-31, 09-07], week 1
(09-07, 09-14], … week 12 (11-23, 11-30].
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pipelines.dashboard.model import Candidate, Release, StagingRun
from pipelines.dashboard.rcs import index_runs, with_staging


def projects(site) -> dict:
    out, _ = site
    return {p["name"]: p for p in json.loads((out / "dashboard.json").read_text())["projects"]}


def column(weeks: list[dict], key: str) -> list:
    return [week[key] for week in weeks]


def test_percolate_week_by_week(site):
    weeks = projects(site)["percolate"]["trend"]
    assert (weeks[0]["start"], weeks[0]["end"]) == ("2025-08-31T00:00:00+00:00", "2025-09-07T00:00:00+00:00")
    assert weeks[-1]["end"] == "2025-11-30T00:00:00+00:00"
    # deploys: 0.2.0 on 09-13 (week 1), 0.3.0 on 10-03 (week 4), 0.3.1 on 10-22 (week 7)
    assert column(weeks, "deploys") == [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    # lead times: 09-13 10:00 - 09-10 09:00 = 73 h; 10-03 08:00 - 10-01 08:00 = 48 h; 10-22 06:00 - 10-20 06:00
    assert column(weeks, "lead_time_hours") == [None, 73.0, None, None, 48.0, None, None, 48.0] + [None] * 5
    assert column(weeks, "change_failure_rate") == [None, 0.0, None, None, 1.0, None, None, 0.0] + [None] * 5
    assert column(weeks, "time_to_restore_hours") == [None] * 4 + [4.0] + [None] * 8


def test_percolate_reading_week_by_week(site):
    weeks = projects(site)["percolate-reading"]["trend"]
    # 0.1.0 on 10-06 (week 5); 0.1.1 on 10-13 and 0.1.2 on 10-14 (week 6), 0.1.2 rolled back
    assert column(weeks, "deploys") == [0] * 5 + [1, 2] + [0] * 6
    assert column(weeks, "lead_time_hours")[5:7] == [25.0, 38.5]  # median of 73 h and 4 h
    assert column(weeks, "change_failure_rate")[5:7] == [0.0, 0.5]
    assert column(weeks, "time_to_restore_hours")[5:7] == [None, 3.0]


def test_the_rc_pipeline_of_each_release(site):
    reading = {r["version"]: r for r in projects(site)["percolate-reading"]["releases"]}
    results = {
        version: [[run["result"] for run in c["staging"]] for c in release["candidates"]]
        for version, release in reading.items()
    }
    assert results == {
        "0.2.0": [["failed"]],
        "0.1.2": [["passed"]],
        "0.1.1": [["failed"], ["passed"]],  # rc1 failed staging, rc2 passed
        "0.1.0": [["passed"]],  # its record names no commit of the story: it goes to the RC tagged before it
    }
    assert reading["0.1.1"]["released_candidate"] == "percolate-reading-v0.1.1-rc2"
    # rc2 tagged 10-11 08:00 -> staging passed 10-11 10:00 -> released 10-12 08:00 -> deployed 10-13 08:00
    assert reading["0.1.1"]["stages"] == {
        "build_to_staging_hours": 2.0,
        "staging_to_release_hours": 22.0,
        "release_to_deploy_hours": 24.0,
    }
    assert reading["0.1.1"]["rc_to_release_hours"] == 48.0
    assert reading["0.1.2"]["stages"] == {
        "build_to_staging_hours": 1.0,
        "staging_to_release_hours": 1.0,
        "release_to_deploy_hours": 1.0,
    }
    assert reading["0.1.0"]["stages"] == {
        "build_to_staging_hours": 1.0,
        "staging_to_release_hours": 11.0,
        "release_to_deploy_hours": 12.0,
    }
    assert reading["0.2.0"]["released_candidate"] is None
    assert set(reading["0.2.0"]["stages"].values()) == {None}


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2025, 11, day, hour, tzinfo=UTC)


def release(*candidates: Candidate, commit: str = "b" * 40) -> Release:
    return Release("percolate-rocks", "0.2.0", candidates, tag="percolate-rocks-v0.2.0", date=at(20), commit=commit)


def test_a_wheel_record_goes_to_the_rc_its_version_names():
    rc1, rc2 = Candidate("r-rc1", 1, at(1), "a" * 40), Candidate("r-rc2", 2, at(2), "b" * 40)
    runs = [StagingRun("0.2.0rc1", "failed", at(3)), StagingRun("0.2.0rc2", "passed", at(4))]
    runs.append(StagingRun("0.3.0rc1", "passed", at(5)))  # another version's: nowhere here
    found = with_staging(release(rc1, rc2), index_runs(runs))
    assert [[r.result for r in c.staging] for c in found.candidates] == [["failed"], ["passed"]]
    assert found.released_candidate == found.candidates[1] and found.stages[:2] == (at(4) - at(2), at(20) - at(4))


def test_an_image_record_goes_to_the_rc_of_its_commit_before_the_newest():
    rc1, rc2 = Candidate("p-rc1", 1, at(1), "aaaaaaa" + "0" * 33), Candidate("p-rc2", 2, at(2), "c" * 40)
    run = StagingRun("2025.11.03.0900-build.9-v0.2.0-aaaaaaa", "passed", at(3))
    early = StagingRun("2025.11.01.0900-build.8-v0.2.0-ccccccc", "passed", at(1, 12))  # before rc2 was tagged
    found = with_staging(release(rc1, rc2, commit="c" * 40), index_runs([run, early]))
    assert [[r.build for r in c.staging] for c in found.candidates] == [[early.build, run.build], []]
    assert found.stages == (None, None, None)  # the released RC (rc2, on the release's commit) never passed


def test_each_staging_record_is_read_once_however_many_releases(tmp_path, monkeypatch):
    """1,000 releases and 2,000 records once took 3.3 s: every release re-read every record. On a real
    repository with 40 releases and two records per RC (80), the records are read 80 times, not 40 x 80."""
    from pipelines.dashboard import rcs
    from tests.dashboard.hostile import base_repo, dashboard

    root = base_repo(tmp_path / "repo")
    sha7 = git_head(root)[:7]
    data = tmp_path / "records"
    data.mkdir()
    for minor in range(2, 42):
        version = f"0.{minor}.0"
        git_tag(root, f"percolate-v{version}-rc1", f"2025-10-{minor % 28 + 1:02d}T10:00:00+00:00")
        for number in (1, 2):
            record = {
                "kind": "staging-record",
                "project": "percolate",
                "build": f"2025.10.01.0000-build.{number}-v{version}-{sha7}",
                "result": "passed",
                "recorded_at": f"2025-10-{minor % 28 + 1:02d}T11:0{number}:00+00:00",
            }
            (data / f"{version}-{number}.json").write_text(json.dumps(record))
    reads = []
    real = rcs.check_build_stem
    monkeypatch.setattr(rcs, "check_build_stem", lambda stem: reads.append(stem) or real(stem))

    built = dashboard(root, tmp_path / "site", "--data", str(data), "--json")

    assert built.code == 0, built.stderr
    assert len(reads) == 80
    site = json.loads((tmp_path / "site" / "dashboard.json").read_text())
    percolate = next(p for p in site["projects"] if p["name"] == "percolate")
    assert sum(len(c["staging"]) for r in percolate["releases"] for c in r["candidates"]) == 80


def git_head(root) -> str:
    from kit.git import git

    return git(root, "rev-parse", "HEAD")


def git_tag(root, name: str, at: str) -> None:
    from kit.git import git

    git(root, "tag", "-a", name, "-m", name, at=at)
