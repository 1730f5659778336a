"""Records of the wrong shape under `dashboard --data` (issue 21, item 9): each is skipped with a note naming
the file (on stderr and in the page's notes) and the page is written, exit 0. A stray record never stops it."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.dashboard.build import assemble, to_json
from pipelines.dashboard.data import read_records
from pipelines.dashboard.page import render
from pipelines.edges.git_history import TagRef
from tests.dashboard.conftest import NOW
from tests.support.special_files import run_guarded

TAG = "percolate-rocks-v0.2.0-rc2"
STEM = "2025.11.25.0900-build.9-v0.2.0-def5678"


def build_record(**fields) -> dict:
    return {"tag": TAG, "project": "percolate-rocks", "commit": "0" * 40, **fields}


def staging_record(**fields) -> dict:
    record = {"kind": "staging-record", "project": "percolate", "build": STEM, "result": "passed"}
    return {**record, "recorded_at": "2025-11-26T10:00:00Z", **fields}


BAD_RECORDS = {
    "images-a-number.json": build_record(images=5),
    "files-a-boolean.json": build_record(files=True),
    "benchmarks-a-number.json": build_record(files=[], benchmarks=7),
    "benchmarks-an-infinite-median.json": build_record(files=[], benchmarks=[{"name": "b", "median": 10**400}]),
    "benchmarks-entries-not-objects.json": build_record(files=[], benchmarks=["b", 1]),
    "images-without-digest.json": build_record(images=[{"platform": "amd64"}]),
    "images-digest-not-a-digest.json": build_record(images=[{"platform": "amd64", "digest": "latest"}]),
    "files-sha256-not-hex.json": build_record(files=[{"name": "a.whl", "sha256": "zz"}]),
    "files-name-a-number.json": build_record(files=[{"name": 1, "sha256": "ab" * 32}]),
    "tag-a-list.json": build_record(tag=["percolate-v0.1.0"], files=[]),
    "staging-year-1-east-of-utc.json": staging_record(recorded_at="0001-01-01T00:00:00+05:00"),
    "staging-year-9999-west-of-utc.json": staging_record(recorded_at="9999-12-31T23:59:59-05:00"),
    "staging-recorded-at-a-number.json": staging_record(recorded_at=5),
    "staging-result-a-list.json": staging_record(result=["passed"]),
    "staging-build-an-object.json": staging_record(build={"a": 1}),
    "staging-project-a-number.json": staging_record(project=5),
    f"{TAG}/raw-benchmarks-a-number.json": {"benchmarks": 7, "machine_info": {}},
}


def test_records_of_the_wrong_shape_are_skipped_with_a_note_and_the_page_is_written(story, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(story.data, data)
    for name, record in BAD_RECORDS.items():
        (data / name).parent.mkdir(exist_ok=True)
        (data / name).write_text(json.dumps(record))
    out = tmp_path / "site"

    result = run_guarded(
        "dashboard", "--out", str(out), "--root", str(story.root), "--data", str(data), "--at", NOW.isoformat()
    )

    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    notes = json.loads((out / "dashboard.json").read_text())["notes"]
    for name in BAD_RECORDS:
        assert any(name in note and note.endswith("skipped") for note in notes), name
        assert name in result.stderr
    assert "failed" in (out / "index.html").read_text()  # the good records still count: reading's failed staging run


def test_a_staging_time_is_kept_in_utc():
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "r.json").write_text(json.dumps(staging_record(recorded_at="2025-11-26T10:00:00+05:00")))
        run = read_records(Path(folder)).staging["percolate"]
    assert run.recorded_at == datetime(2025, 11, 26, 5, tzinfo=UTC) and run.recorded_at.tzinfo is UTC


# --- the property: whatever the records hold, reading them and drawing the page never fails

TAGS = ("percolate-rocks-v0.2.0-rc1", TAG, "percolate-v0.1.0-rc1", "percolate-reading-v0.1.0")
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from([*TAGS, "sha256:" + "ab" * 32, "ab" * 32, "2025-11-26T10:00:00Z", "0001-01-01T00:00:00+05:00"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
entries = st.fixed_dictionaries(
    {},
    optional={key: json_values for key in ("name", "platform", "digest", "sha256", "median", "q1", "q3", "rounds")}
    | {"fullname": json_values, "stats": json_values},
)
fields = json_values | st.lists(entries | json_values, max_size=3)
times = st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2025-11-26"]) | st.datetimes(
    timezones=st.none() | st.timezones()
).map(datetime.isoformat)
build_records = st.fixed_dictionaries(
    {"tag": st.sampled_from(TAGS) | json_values},
    optional={"files": fields, "images": fields, "benchmarks": fields, "project": json_values},
).filter(lambda record: "files" in record or "images" in record)
staging_records = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["staging-record", "wheel-staging-record"]),
        "project": st.sampled_from(["percolate", "percolate-reading", "percolate-rocks"]) | json_values,
        "result": st.sampled_from(["passed", "failed"]) | json_values,
        "recorded_at": times | json_values,
    },
    optional={
        "build": st.just(STEM) | json_values,
        "version": json_values,
        "digest": json_values,
        "run_url": json_values,
    },
)
raw_benchmarks = st.fixed_dictionaries({"benchmarks": fields, "machine_info": json_values})
records = st.one_of(build_records, staging_records, raw_benchmarks, json_values)


@given(st.lists(st.tuples(st.sampled_from(["", f"{TAG}/"]), records | json_values), max_size=5))
def test_any_records_are_read_or_noted_and_the_page_is_drawn(found):
    with tempfile.TemporaryDirectory() as folder:
        for number, (where, record) in enumerate(found):
            path = Path(folder, f"{where}{number}.json")
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(record))
        read = read_records(Path(folder))
    at = datetime(2025, 11, 1, tzinfo=UTC)
    tags = [TagRef(name, at + timedelta(hours=n), "f" * 40, at) for n, name in enumerate(TAGS)]
    dashboard = assemble(tags, [], read, NOW)
    render(dashboard)
    json.dumps(to_json(dashboard))
    assert len(read.notes) + len(read.artifacts) + len(read.staging) + len(read.benchmarks) <= len(found) + 1


@pytest.mark.parametrize("record", [staging_record(recorded_at="0001-01-01T00:00:00+05:00"), build_record(images=5)])
def test_a_bad_record_beside_a_good_one_leaves_the_good_one(record):
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bad.json").write_text(json.dumps(record))
        Path(folder, "good.json").write_text(json.dumps(staging_record()))
        read = read_records(Path(folder))
    assert read.staging["percolate"].build == STEM
    assert [note.split(":")[0] for note in read.notes] == ["bad.json"]
