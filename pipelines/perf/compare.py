"""The regression rule of the RC build: each benchmark's median against the last release's, beyond noise.

A benchmark is a regression, and fails the build, only when both hold:
- its median slowed down by more than the threshold (the catalog's, 10% for percolate-rocks):
  (current median - baseline median) / baseline median > threshold; and
- the slowdown is larger than the runs' own spread: the current run's lower quartile lies above the
  baseline run's upper quartile, i.e. the two interquartile ranges do not overlap. Half the current
  rounds are slower than anything in the middle half of the baseline's, so it is not one noisy round.
A median that slowed beyond the threshold while the ranges overlap is reported as within noise; the
mirror images are "faster" and "faster within noise". Benchmarks only in the current run are new,
only in the baseline removed: both reported, neither fails the build. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pipelines.perf.results import BenchmarkResult, BenchmarkRun


class Verdict(Enum):
    SLOWER = "slower"  # the one verdict that fails the build
    SLOWER_WITHIN_NOISE = "slower-within-noise"
    UNCHANGED = "unchanged"
    FASTER_WITHIN_NOISE = "faster-within-noise"
    FASTER = "faster"
    NEW = "new"
    REMOVED = "removed"


@dataclass(frozen=True)
class Comparison:
    """One benchmark in the two runs; `change` is the relative change of the median (0.15 = 15% slower)."""

    name: str
    verdict: Verdict
    baseline: BenchmarkResult | None
    current: BenchmarkResult | None

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None or self.baseline.median == 0:
            return None
        return (self.current.median - self.baseline.median) / self.baseline.median


def judge(baseline: BenchmarkResult, current: BenchmarkResult, threshold: float) -> Verdict:
    """The verdict on one benchmark present in both runs; `threshold` is a fraction (0.10 for 10%)."""
    if baseline.median == 0:
        return Verdict.UNCHANGED if current.median == 0 else Verdict.SLOWER_WITHIN_NOISE
    change = (current.median - baseline.median) / baseline.median
    if change > threshold:
        return Verdict.SLOWER if current.q1 > baseline.q3 else Verdict.SLOWER_WITHIN_NOISE
    if change < -threshold:
        return Verdict.FASTER if current.q3 < baseline.q1 else Verdict.FASTER_WITHIN_NOISE
    return Verdict.UNCHANGED


def compare_runs(baseline: BenchmarkRun, current: BenchmarkRun, threshold: float) -> list[Comparison]:
    """Every benchmark of either run, by name, with its verdict."""
    before, after = baseline.by_name(), current.by_name()
    comparisons = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is None:
            verdict = Verdict.NEW
        elif new is None:
            verdict = Verdict.REMOVED
        else:
            verdict = judge(old, new, threshold)
        comparisons.append(Comparison(name, verdict, old, new))
    return comparisons


def regressions(comparisons: list[Comparison]) -> list[Comparison]:
    return [comparison for comparison in comparisons if comparison.verdict is Verdict.SLOWER]


def _seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def table(comparisons: list[Comparison]) -> str:
    """A Markdown table of the comparisons (the job summary and the failure message show it)."""
    rows = ["| benchmark | baseline median | current median | change | verdict |", "|---|---|---|---|---|"]
    for comparison in comparisons:
        old = _seconds(comparison.baseline.median) if comparison.baseline else "—"
        new = _seconds(comparison.current.median) if comparison.current else "—"
        change = f"{comparison.change:+.1%}" if comparison.change is not None else "—"
        rows.append(f"| `{comparison.name}` | {old} | {new} | {change} | {comparison.verdict.value} |")
    return "\n".join(rows)
