"""The RC pipeline of each release: which staging runs tested which release candidate.

A staging record names what it tested: an image record its build's CalVer stem
(`YYYY.MM.DD.HHMM-build.N-vX.Y.Z-SHA7`: the version and the commit, not the rc number), a wheel record
the RC's version (`0.2.0rc2`). A run belongs to the RC of that version whose commit starts with the stem's
SHA7 (several RCs on one commit: the newest tagged before the run); a run whose commit matches no RC
goes to the newest RC of the version tagged before it, else it is left out (it tested nothing tagged).

Each run is read once (`index_runs`: per version) and each release matches only its version's runs, by
bisection over its RCs in tag order: linear in runs and RCs, not their product.
Pure.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipelines.core.calver import check_build_stem, parse_build_tag
from pipelines.core.errors import InputError
from pipelines.core.versions import parse_version
from pipelines.dashboard.model import Candidate, Release, StagingRun


@dataclass(frozen=True)
class Tested:
    """A staging run and what it names: its version's rc number (a wheel record) or commit prefix (an image)."""

    run: StagingRun
    rc: int | None
    sha: str | None


def _subject(run: StagingRun) -> tuple[str, Tested] | None:
    """(version, what `run` tested); None when unreadable."""
    try:
        build = parse_build_tag(f"{check_build_stem(run.build)}-any")
        return build.version.release, Tested(run, None, build.sha)
    except InputError:
        pass
    try:
        version = parse_version(run.build)
    except InputError:
        return None
    rc = version.pre[1] if version.pre is not None and version.pre[0] == "rc" else None
    return (version.release, Tested(run, rc, None)) if rc is not None else None


def index_runs(runs: Iterable[StagingRun]) -> dict[str, list[Tested]]:
    """Every readable run, parsed once, per version it tested (X.Y.Z)."""
    index: dict[str, list[Tested]] = {}
    for run in runs:
        subject = _subject(run)
        if subject is not None:
            index.setdefault(subject[0], []).append(subject[1])
    return index


class _Candidates:
    """A release's RCs in tag order (date, rc), with lookups by rc number and by commit prefix."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.ordered = sorted(candidates, key=lambda c: (c.date, c.rc))
        self.by_rc = {c.rc: c for c in candidates}
        self.by_prefix: dict[tuple[int, str], list[Candidate]] = {}
        self.lengths: set[int] = set()

    def _with_prefix(self, sha: str) -> list[Candidate]:
        if len(sha) not in self.lengths:  # one pass per prefix length: the grammar gives SHA7 only
            self.lengths.add(len(sha))
            for candidate in self.ordered:
                self.by_prefix.setdefault((len(sha), candidate.commit[: len(sha)]), []).append(candidate)
        return self.by_prefix.get((len(sha), sha), [])

    def of(self, tested: Tested) -> Candidate | None:
        """The RC `tested` belongs to: by rc number, else the newest tagged before the run on its commit, else
        the newest tagged before it."""
        if tested.rc is not None:
            return self.by_rc.get(tested.rc)
        at = tested.run.recorded_at
        for group in (self._with_prefix(tested.sha) if tested.sha else [], self.ordered):
            count = bisect_right(group, at, key=lambda c: c.date)
            if count:
                return group[count - 1]
        return None


def with_staging(release: Release, index: Mapping[str, Sequence[Tested]]) -> Release:
    """`release` with each RC's staging runs (oldest first), from `index_runs`' index."""
    runs = index.get(release.version, ())
    if not runs or not release.candidates:
        return release
    candidates = _Candidates(release.candidates)
    found: dict[str, list[StagingRun]] = {}
    for tested in runs:
        candidate = candidates.of(tested)
        if candidate is not None:
            found.setdefault(candidate.tag, []).append(tested.run)
    if not found:
        return release
    staged = tuple(
        dataclasses.replace(c, staging=tuple(sorted(found.get(c.tag, []), key=lambda r: r.recorded_at)))
        for c in release.candidates
    )
    return dataclasses.replace(release, candidates=staged)
