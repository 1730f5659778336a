"""The RC pipeline of each release: which staging runs tested which release candidate.

A staging record names what it tested: an image record its build's CalVer stem
(`YYYY.MM.DD.HHMM-build.N-vX.Y.Z-SHA7`: the version and the commit, not the rc number), a wheel record
the RC's version (`0.2.0rc2`). A run belongs to the RC of that version whose commit starts with the stem's
SHA7 (several RCs on one commit: the newest tagged before the run); a run whose commit matches no RC
goes to the newest RC of the version tagged before it, else it is left out (it tested nothing tagged).
Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from pipelines.core.calver import check_build_stem, parse_build_tag
from pipelines.core.errors import InputError
from pipelines.core.versions import parse_version
from pipelines.dashboard.model import Candidate, Release, StagingRun


def _subject(run: StagingRun) -> tuple[str, int | None, str | None] | None:
    """(version, rc number or None, commit prefix or None) of what `run` tested; None when unreadable."""
    try:
        build = parse_build_tag(f"{check_build_stem(run.build)}-any")
        return build.version.release, None, build.sha
    except InputError:
        pass
    try:
        version = parse_version(run.build)
    except InputError:
        return None
    rc = version.pre[1] if version.pre is not None and version.pre[0] == "rc" else None
    return (version.release, rc, None) if rc is not None else None


def _candidate(release: Release, run: StagingRun) -> Candidate | None:
    subject = _subject(run)
    if subject is None or subject[0] != release.version:
        return None
    _, rc, sha = subject
    if rc is not None:
        return next((c for c in release.candidates if c.rc == rc), None)
    before = [c for c in release.candidates if c.date <= run.recorded_at]
    same = [c for c in before if sha is not None and c.commit.startswith(sha)]
    return max(same or before, key=lambda c: (c.date, c.rc), default=None)


def with_staging(release: Release, runs: Iterable[StagingRun]) -> Release:
    """`release` with each RC's staging runs (oldest first)."""
    found: dict[str, list[StagingRun]] = {}
    for run in runs:
        candidate = _candidate(release, run)
        if candidate is not None:
            found.setdefault(candidate.tag, []).append(run)
    if not found:
        return release
    candidates = tuple(
        dataclasses.replace(c, staging=tuple(sorted(found.get(c.tag, []), key=lambda r: r.recorded_at)))
        for c in release.candidates
    )
    return dataclasses.replace(release, candidates=candidates)
