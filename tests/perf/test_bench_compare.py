"""`bench compare` on pytest-benchmark JSON, and `bench baseline` on a real git history.

The JSON comes from pytest-benchmark itself, run once per module on two tiny benchmarks. The comparison
cases then change the statistics of that real document (median and quartiles) so that each verdict is
certain, whatever the machine's noise: a live timing would make "15% slower" a coin toss.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.perf.compare import Verdict, compare_runs, judge
from pipelines.perf.results import BenchmarkResult, parse_results

BENCHES = """
def test_sum(benchmark):
    benchmark(sum, range(200))


def test_sorted(benchmark):
    benchmark(sorted, list(range(200, 0, -1)))
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> dict:
    """What `pytest --benchmark-json` writes for two benchmarks (a real run, kept short)."""
    folder = tmp_path_factory.mktemp("benches")
    (folder / "test_benches.py").write_text(BENCHES)
    out = folder / "results.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "test_benches.py",
            f"--benchmark-json={out}",
            "--benchmark-min-rounds=5",
            "--benchmark-max-time=0.01",
            "--benchmark-warmup=off",
        ],
        cwd=folder,
        # A run of its own, not a worker of this one: pytest-benchmark turns itself off under xdist.
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        check=True,
        capture_output=True,
        timeout=120,
    )
    return json.loads(out.read_text())


def with_stats(document: dict, changes: dict[str, tuple[float, float]]) -> dict:
    """`document` with benchmark NAME's median set and its quartiles at median * (1 -/+ spread)."""
    changed = copy.deepcopy(document)
    for entry in changed["benchmarks"]:
        if entry["name"] in changes:
            median, spread = changes[entry["name"]]
            entry["stats"].update(median=median, q1=median * (1 - spread), q3=median * (1 + spread))
    return changed


def write(folder: Path, name: str, document: dict) -> Path:
    path = folder / name
    path.write_text(json.dumps(document))
    return path


def compare(cli, tmp_path, baseline: dict, current: dict, *extra: str):
    return cli(
        "bench",
        "compare",
        "--baseline",
        str(write(tmp_path, "baseline.json", baseline)),
        "--current",
        str(write(tmp_path, "current.json", current)),
        "--json",
        *extra,
    )


def verdicts(result) -> dict[str, str]:
    return {entry["name"].rsplit("::", 1)[1]: entry["verdict"] for entry in result.json()["benchmarks"]}


BASE = {"test_sum": (0.001, 0.02), "test_sorted": (0.002, 0.02)}


def test_the_real_output_parses_and_equals_itself(cli, tmp_path, real_run):
    run = parse_results(json.dumps(real_run))
    assert [r.name.rsplit("::", 1)[1] for r in run.results] == ["test_sorted", "test_sum"]
    assert all(r.q1 <= r.median <= r.q3 and r.rounds >= 5 for r in run.results)
    result = compare(cli, tmp_path, real_run, real_run)
    assert result.code == 0, result.stderr
    assert verdicts(result) == {"test_sum": "unchanged", "test_sorted": "unchanged"}


def test_faster_passes(cli, tmp_path, real_run):
    faster = {"test_sum": (0.0007, 0.02), "test_sorted": (0.002, 0.02)}
    result = compare(cli, tmp_path, with_stats(real_run, BASE), with_stats(real_run, faster))
    assert result.code == 0
    assert verdicts(result) == {"test_sum": "faster", "test_sorted": "unchanged"}


def test_slower_within_the_runs_spread_passes(cli, tmp_path, real_run):
    # 15% slower medians, but each run's middle half spans +-20%: the ranges overlap.
    noisy_base = {"test_sum": (0.001, 0.2), "test_sorted": (0.002, 0.2)}
    noisy = {"test_sum": (0.00115, 0.2), "test_sorted": (0.002, 0.2)}
    result = compare(cli, tmp_path, with_stats(real_run, noisy_base), with_stats(real_run, noisy))
    assert result.code == 0, result.stderr
    assert verdicts(result)["test_sum"] == "slower-within-noise"
    assert result.json()["passed"] is True


def test_fifteen_percent_slower_fails_with_a_table(cli, tmp_path, real_run):
    slower = {"test_sum": (0.00115, 0.02), "test_sorted": (0.00205, 0.02)}
    result = cli(
        "bench",
        "compare",
        "--baseline",
        str(write(tmp_path, "b.json", with_stats(real_run, BASE))),
        "--current",
        str(write(tmp_path, "c.json", with_stats(real_run, slower))),
    )
    assert result.code == 1
    assert "| `test_benches.py::test_sum` | 1 ms | 1.15 ms | +15.0% | slower |" in result.stdout
    assert "| `test_benches.py::test_sorted` | 2 ms | 2.05 ms | +2.5% | unchanged |" in result.stdout
    assert "1 benchmark(s) slower than the baseline by more than 10%" in result.stderr
    assert "test_benches.py::test_sum" in result.stderr and "Traceback" not in result.stderr


def test_a_higher_threshold_lets_fifteen_percent_pass(cli, tmp_path, real_run):
    slower = {"test_sum": (0.00115, 0.02), "test_sorted": (0.002, 0.02)}
    result = compare(cli, tmp_path, with_stats(real_run, BASE), with_stats(real_run, slower), "--threshold", "20")
    assert result.code == 0
    assert result.json()["threshold_pct"] == 20


def test_new_and_removed_benchmarks_are_reported_not_failed(cli, tmp_path, real_run):
    baseline, current = with_stats(real_run, BASE), with_stats(real_run, BASE)
    baseline["benchmarks"] = [b for b in baseline["benchmarks"] if b["name"] == "test_sum"]
    current["benchmarks"] = [b for b in current["benchmarks"] if b["name"] == "test_sorted"]
    result = compare(cli, tmp_path, baseline, current)
    assert result.code == 0
    data = result.json()
    assert data["new"] == ["test_benches.py::test_sorted"]
    assert data["removed"] == ["test_benches.py::test_sum"]
    assert verdicts(result) == {"test_sorted": "new", "test_sum": "removed"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "is not JSON"),
        ('{"benchmarks": {}}', "no `benchmarks` list"),
        ('{"benchmarks": [{"fullname": "a::b"}]}', "a::b has no stats object"),
        (
            '{"benchmarks": [{"fullname": "a::b", "stats": {"median": "1", "q1": 0, "q3": 2, "rounds": 3}}]}',
            "stats.median",
        ),
        (
            '{"benchmarks": [{"fullname": "a::b", "stats": {"median": 3, "q1": 0, "q3": 2, "rounds": 3}}]}',
            "do not enclose",
        ),
    ],
)
def test_malformed_results_are_bad_input(cli, tmp_path, real_run, text, problem):
    (tmp_path / "bad.json").write_text(text)
    good = write(tmp_path, "good.json", real_run)
    result = cli("bench", "compare", "--baseline", str(good), "--current", str(tmp_path / "bad.json"))
    assert result.code == 2
    assert problem in result.stderr and "hint:" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_file_is_bad_input(cli, tmp_path, real_run):
    good = write(tmp_path, "good.json", real_run)
    result = cli("bench", "compare", "--baseline", str(tmp_path / "nope.json"), "--current", str(good))
    assert result.code == 2 and "--baseline" in result.stderr and "not found" in result.stderr


def result_of(median: float, spread: float) -> BenchmarkResult:
    return BenchmarkResult("b", median, median * (1 - spread), median * (1 + spread), 10)


@given(
    median=st.floats(min_value=1e-7, max_value=10),
    change=st.floats(min_value=-0.9, max_value=3),
    spread=st.floats(min_value=0, max_value=0.5),
)
def test_only_a_slowdown_beyond_threshold_and_spread_fails(median, change, spread):
    base, current = result_of(median, spread), result_of(median * (1 + change), spread)
    verdict = judge(base, current, 0.10)
    fails = (current.median - base.median) / base.median > 0.10 and current.q1 > base.q3
    assert (verdict is Verdict.SLOWER) == fails
    assert judge(base, base, 0.10) is Verdict.UNCHANGED


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=12,
    )
)
def test_any_json_parses_or_is_refused_as_bad_input(value):
    document = {"benchmarks": [{"fullname": "x::y", "stats": value}]}
    try:
        run = parse_results(json.dumps(document))
    except InputError:
        return
    assert compare_runs(run, run, 0.1)[0].verdict is Verdict.UNCHANGED


def test_baseline_is_the_rc_on_the_last_releases_commit(cli, monorepo):
    assert cli("bench", "baseline", "percolate-rocks", "--root", str(monorepo.root), "--json").json()["rc_tag"] is None
    monorepo.tag("percolate-rocks-v0.1.0-rc1")
    (monorepo.root / "CHANGES").write_text("fix\n")
    monorepo.commit_all("fix")
    monorepo.tag("percolate-rocks-v0.1.0-rc2")
    monorepo.tag("percolate-rocks-v0.1.0")
    monorepo.tag("percolate-rocks-v0.2.0-rc1")
    result = cli("bench", "baseline", "percolate-rocks", "--root", str(monorepo.root), "--json")
    assert result.json() == {
        "project": "percolate-rocks",
        "release": "percolate-rocks-v0.1.0",
        "rc_tag": "percolate-rocks-v0.1.0-rc2",
        "asset": "benchmarks.json",
    }
    before = cli("bench", "baseline", "percolate-rocks", "--root", str(monorepo.root), "--before", "0.1.0", "--json")
    assert before.json()["release"] is None
