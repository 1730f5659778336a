"""`bench compare` and `bench baseline`: the benchmark regression gate of percolate-rocks' RC build."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, add_group, add_root_option
from pipelines.commands.checkout import resolve_root
from pipelines.core.catalog import get_project
from pipelines.core.errors import InputError
from pipelines.output import actions_outputs, emit

DEFAULT_PROJECT = "percolate-rocks"


@dataclass(frozen=True)
class CompareRequest:
    baseline: Path
    current: Path
    threshold: float | None
    project: str
    json: bool


@dataclass(frozen=True)
class BaselineRequest:
    project: str
    before: str | None
    root: Path | None
    json: bool


def _threshold(request: CompareRequest) -> float:
    if request.threshold is not None:
        if not 0 <= request.threshold < 1000:
            raise InputError(f"--threshold {request.threshold:g} is out of range", hint="give a percentage, e.g. 10")
        return float(request.threshold)
    project = get_project(request.project)
    if project.benchmark_threshold_pct is None:
        raise InputError(
            f"{project.name} has no benchmark threshold in the catalog", hint="pass --threshold PCT, e.g. 10"
        )
    return project.benchmark_threshold_pct


def _read_run(path: Path, what: str) -> Any:
    from pipelines.edges.files import read_text
    from pipelines.perf.results import FIX, MAX_RESULTS_BYTES, parse_results

    return parse_results(read_text(path, fix=FIX, limit=MAX_RESULTS_BYTES, what=what), source=str(path))


def _compare(request: CompareRequest) -> int:
    from pipelines.perf.compare import Verdict, compare_runs, regressions, table

    percent = _threshold(request)
    baseline, current = _read_run(request.baseline, "--baseline"), _read_run(request.current, "--current")
    comparisons = compare_runs(baseline, current, percent / 100)
    slower = regressions(comparisons)
    data: dict[str, Any] = {
        "threshold_pct": percent,
        "passed": not slower,
        "regressions": [c.name for c in slower],
        "new": [c.name for c in comparisons if c.verdict is Verdict.NEW],
        "removed": [c.name for c in comparisons if c.verdict is Verdict.REMOVED],
        "benchmarks": [
            {
                "name": c.name,
                "verdict": c.verdict.value,
                "baseline_median": c.baseline.median if c.baseline else None,
                "current_median": c.current.median if c.current else None,
                "change": c.change,
            }
            for c in comparisons
        ],
    }
    rendered = table(comparisons)
    verdict = (
        f"{len(slower)} benchmark(s) slower than the baseline by more than {percent:g}% beyond the runs' spread"
        if slower
        else f"no benchmark slower than the baseline by more than {percent:g}% beyond the runs' spread"
    )
    emit(request.json, data, f"{rendered}\n\n{verdict}")
    actions_outputs({}, f"### Benchmarks against the last release\n\n{rendered}\n\n{verdict}\n")
    if slower:
        print(
            f"error: {verdict}: {', '.join(data['regressions'])}\n"
            "  hint: find the change that slowed it (the table above), or, if the slowdown is intended, "
            "raise the threshold with --threshold PCT in build-rocks.yml",
            file=sys.stderr,
        )
        return 1
    return 0


def _baseline(request: BaselineRequest) -> int:
    from pipelines.edges.git import Git
    from pipelines.perf.baseline import RESULTS_ASSET, baseline_rc, last_release

    project = get_project(request.project)
    git = Git(resolve_root(request.root))
    tags = git.tags()
    release = last_release(project.name, tags, before=request.before)
    rc = None
    if release is not None:
        same_version = [t for t in tags if t.startswith(f"{release.name}-rc") or t == release.name]
        commits = {tag: commit for tag in same_version if (commit := git.commit_of(f"refs/tags/{tag}"))}
        rc = baseline_rc(release, same_version, commits)
    data = {
        "project": project.name,
        "release": release.name if release else None,
        "rc_tag": rc.name if rc else None,
        "asset": RESULTS_ASSET,
    }
    if release is None:
        text = f"{project.name} has no release{f' before {request.before}' if request.before else ''} yet: no baseline"
    elif rc is None:
        text = f"{release.name} has no RC tag on its commit: no baseline"
    else:
        text = f"{rc.name} (released as {release.name}): asset {RESULTS_ASSET} of its GitHub pre-release"
    emit(request.json, data, text)
    return 0


def register(subcommands: Any) -> None:
    group = add_group(subcommands, "bench", summary="compare benchmark runs; find the last release's results")
    compare = add_command(
        group,
        "compare",
        summary="fail (exit 1) when a benchmark got slower than the baseline beyond the threshold and noise",
        request=CompareRequest,
        run=_compare,
        description="Compare two pytest-benchmark JSON files (`pytest --benchmark-json FILE`) benchmark by\n"
        "benchmark. A benchmark fails the comparison only when its median slowed by more than the\n"
        "threshold AND the slowdown exceeds the runs' spread: the current lower quartile lies above the\n"
        "baseline's upper quartile. New and removed benchmarks are reported and never fail it.\n"
        "Prints a table (Markdown; also the job summary inside GitHub Actions). Exit 1 on a regression,\n"
        "2 when a file is missing or not pytest-benchmark JSON.",
        examples="  python -m pipelines bench compare --baseline baseline/benchmarks.json --current benchmarks.json\n"
        "  python -m pipelines bench compare --baseline a.json --current b.json --threshold 5 --json",
    )
    compare.add_argument("--baseline", type=Path, required=True, metavar="FILE", help="the last release's results")
    compare.add_argument("--current", type=Path, required=True, metavar="FILE", help="this build's results")
    compare.add_argument(
        "--threshold",
        type=float,
        metavar="PCT",
        help="the slowdown of a median, in percent, that fails (default: the catalog's for --project)",
    )
    compare.add_argument(
        "--project", default=DEFAULT_PROJECT, metavar="PROJECT", help=f"whose threshold (default: {DEFAULT_PROJECT})"
    )
    baseline = add_command(
        group,
        "baseline",
        summary="the RC tag whose GitHub pre-release holds the last release's benchmark results",
        request=BaselineRequest,
        run=_baseline,
        description="Name the RC that became PROJECT's newest release (optionally the newest release older than\n"
        "--before X.Y.Z): the newest RC of that version tagged on the release's commit. Its GitHub\n"
        "pre-release carries benchmarks.json, the baseline of `bench compare`. Exit 0 with no tag\n"
        "(`rc_tag: null`) when there is no release yet: the first release has nothing to compare with.",
        examples="  python -m pipelines bench baseline percolate-rocks --before 0.3.0 --json",
    )
    baseline.add_argument("project", metavar="PROJECT", help="the project (percolate-rocks)")
    baseline.add_argument("--before", metavar="X.Y.Z", help="only releases older than this version")
    add_root_option(baseline)
