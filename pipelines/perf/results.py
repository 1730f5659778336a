"""Benchmark results as pytest-benchmark writes them (`--benchmark-json FILE`), read into frozen values.

Only what the comparison and the dashboard need is kept: each benchmark's full name and the statistics
of its rounds (median, lower and upper quartile, rounds). The file comes from a build job, so it is
checked like any outside input: a malformed document is an InputError naming the benchmark and the field.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.errors import InputError
from pipelines.core.json_text import load_json

# A results file of a few hundred benchmarks is well under this; anything larger is not one.
MAX_RESULTS_BYTES = 20 * 1024 * 1024
FIX = "pass the file `pytest --benchmark-json FILE` wrote"


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark of one run: the statistics of its rounds, in seconds."""

    name: str  # pytest-benchmark's `fullname`, e.g. benches/test_core.py::test_parse
    median: float
    q1: float
    q3: float
    rounds: int


@dataclass(frozen=True)
class BenchmarkRun:
    """Every benchmark of one pytest-benchmark run, by name, and when it ran (as the file says)."""

    results: tuple[BenchmarkResult, ...]
    started: str | None = None
    commit: str | None = None

    def by_name(self) -> dict[str, BenchmarkResult]:
        return {result.name: result for result in self.results}


def _number(stats: Mapping[str, Any], key: str, where: str) -> float:
    value = stats.get(key)
    # An integer beyond a float's range (JSON allows any) would overflow math.isfinite; it is no time anyway.
    number = float(value) if isinstance(value, (int, float)) and abs(value) < 1e300 else math.inf
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise InputError(f"{where}: stats.{key} is {value!r:.40}, not a time in seconds", hint=FIX)
    return number


def _result(entry: Any, index: int, source: str) -> BenchmarkResult:
    if not isinstance(entry, Mapping):
        raise InputError(f"{source}: benchmarks[{index}] is not an object", hint=FIX)
    name = entry.get("fullname") or entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{source}: benchmarks[{index}] has no fullname", hint=FIX)
    where = f"{source}: {name}"
    stats = entry.get("stats")
    if not isinstance(stats, Mapping):
        raise InputError(f"{where} has no stats object", hint=FIX)
    median, q1, q3 = (_number(stats, key, where) for key in ("median", "q1", "q3"))
    if not q1 <= median <= q3:
        raise InputError(f"{where}: the quartiles {q1} and {q3} do not enclose the median {median}", hint=FIX)
    rounds = stats.get("rounds")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InputError(f"{where}: stats.rounds is {rounds!r}, not a count of at least 1", hint=FIX)
    return BenchmarkResult(name=name, median=median, q1=q1, q3=q3, rounds=rounds)


def parse_results(text: str | bytes, source: str = "benchmark results") -> BenchmarkRun:
    """The run in a pytest-benchmark JSON document; InputError when it is not one."""
    try:
        data = load_json(text)
    except ValueError as error:
        raise InputError(f"{source} is not JSON: {error}", hint=FIX) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
        raise InputError(f"{source} is not pytest-benchmark JSON (no `benchmarks` list)", hint=FIX)
    results = [_result(entry, index, source) for index, entry in enumerate(data["benchmarks"])]
    duplicates = sorted(name for name, count in Counter(result.name for result in results).items() if count > 1)
    if duplicates:
        raise InputError(f"{source} lists {', '.join(duplicates)} more than once", hint=FIX)
    commit = data.get("commit_info", {}).get("id") if isinstance(data.get("commit_info"), Mapping) else None
    started = data.get("datetime")
    return BenchmarkRun(
        results=tuple(sorted(results, key=lambda result: result.name)),
        started=started if isinstance(started, str) else None,
        commit=commit if isinstance(commit, str) else None,
    )


def parse_summary(entries: Any, source: str) -> tuple[BenchmarkResult, ...]:
    """What `summary` wrote into a build record, read back and checked as results are; InputError naming the
    first entry that is not one."""
    if not isinstance(entries, list):
        raise InputError(f"{source}: benchmarks is not a list", hint=FIX)
    return tuple(
        _result({"name": entry.get("name"), "stats": entry} if isinstance(entry, Mapping) else entry, index, source)
        for index, entry in enumerate(entries)
    )


def summary(run: BenchmarkRun) -> list[dict[str, Any]]:
    """The run as the build record keeps it: per benchmark its median and quartiles in seconds."""
    return [
        {"name": result.name, "median": result.median, "q1": result.q1, "q3": result.q3, "rounds": result.rounds}
        for result in run.results
    ]
