"""`build-metadata --benchmarks`: the RC build's benchmark medians become part of its build record, which
the dashboard reads back as the benchmark trend."""

from __future__ import annotations

import json

from pipelines.dashboard.data import read_records
from tests.plan.test_build_record import WHEEL_NAMES as WHEELS

RESULTS = {
    "machine_info": {},
    "benchmarks": [
        {
            "fullname": "benches/test_core.py::test_parse",
            "stats": {"median": 0.002, "q1": 0.0019, "q3": 0.0021, "rounds": 9},
        }
    ],
}


def test_the_build_record_carries_the_medians_and_the_dashboard_reads_them(cli, monorepo, tmp_path):
    monorepo.tag("percolate-rocks-v0.2.0-rc1")
    plan = cli("plan", "percolate-rocks-v0.2.0-rc1", "--json", cwd=monorepo.root)
    (tmp_path / "plan.json").write_text(plan.stdout)
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in WHEELS:
        (dist / name).write_bytes(b"x")
    (tmp_path / "benchmarks.json").write_text(json.dumps(RESULTS))
    data = tmp_path / "data"
    data.mkdir()
    out = data / "build-metadata.json"
    common = ["build-metadata", "--plan", str(tmp_path / "plan.json"), "--files", str(dist), "--out", str(out)]

    (tmp_path / "bad.json").write_text('{"benchmarks": [{"fullname": "x"}]}')
    refused = cli(*common, "--benchmarks", str(tmp_path / "bad.json"))
    assert refused.code == 2 and "x has no stats object" in refused.stderr and not out.exists()

    result = cli(*common, "--benchmarks", str(tmp_path / "benchmarks.json"))
    assert result.code == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["benchmarks"] == [
        {"name": "benches/test_core.py::test_parse", "median": 0.002, "q1": 0.0019, "q3": 0.0021, "rounds": 9}
    ]
    records = read_records(data)
    assert records.benchmarks == {"percolate-rocks-v0.2.0-rc1": (("benches/test_core.py::test_parse", 0.002),)}
    assert len(records.artifacts["percolate-rocks-v0.2.0-rc1"]) == len(WHEELS)
    assert records.notes == []
