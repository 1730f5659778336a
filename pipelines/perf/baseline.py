"""Where the last release's benchmark results are: the GitHub pre-release of the RC that became it.

Every RC build of percolate-rocks attaches its `benchmarks.json` to its GitHub pre-release. A release
re-versions an RC's files without rebuilding them, on that RC's very commit (the release rule), so the
last release's results are those of the newest RC of the released version tagged on the release's
commit. Pure: the tags and their commits come from git at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipelines.core.tags import ReleaseTag, parse_tags

# The asset name of the results on each RC's GitHub pre-release.
RESULTS_ASSET = "benchmarks.json"


def last_release(project: str, tags: Iterable[str], *, before: str | None = None) -> ReleaseTag | None:
    """The newest release tag of `project` (by version); with `before` (X.Y.Z), the newest older than it."""
    releases = [tag for tag in parse_tags(tags) if tag.project == project and tag.rc is None]
    if before is not None:
        from pipelines.core.versions import parse_release

        limit = parse_release(before).sort_key()
        releases = [tag for tag in releases if tag.version.sort_key() < limit]
    return max(releases, key=lambda tag: tag.version.sort_key(), default=None)


def baseline_rc(release: ReleaseTag, tags: Iterable[str], commits: Mapping[str, str]) -> ReleaseTag | None:
    """The newest RC of `release`'s version on `release`'s commit (`commits`: tag name -> commit SHA)."""
    commit = commits.get(release.name)
    candidates = [
        tag
        for tag in parse_tags(tags)
        if tag.project == release.project
        and tag.version == release.version
        and tag.rc is not None
        and commits.get(tag.name) == commit
    ]
    return max(candidates, key=lambda tag: tag.rc or 0, default=None) if commit else None
