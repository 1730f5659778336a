"""Which commits a tag's notes cover: from the previous tag of the SAME project to the tag, in the project's
own folders only.

Tags of the three projects interleave in one history, so "the previous tag" is chosen by version
among the project's own tags, never by date or by `git describe`:
- a release `X.Y.Z` starts after the newest release below it (its RCs are inside the range);
- an RC `X.Y.Z-rcN` starts after the newest RC or release below it (`X.Y.Z-rc(N-1)`, or the last
  release when N is 1).
With no earlier tag the notes cover the project's whole history up to the tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.core.catalog import Project, get_project
from pipelines.core.tags import ReleaseTag, parse_tag, parse_tags


@dataclass(frozen=True)
class Span:
    """The commits of `tag`'s notes: `previous..tag` (or all of `tag`'s history), limited to `paths`."""

    tag: ReleaseTag
    previous: ReleaseTag | None
    paths: tuple[str, ...]

    @property
    def revisions(self) -> str:
        # Full ref names: a branch called like a tag must not be read instead.
        tag = f"refs/tags/{self.tag.name}"
        return f"refs/tags/{self.previous.name}..{tag}" if self.previous else tag


def order_key(tag: ReleaseTag) -> tuple[int, int, int, int, int]:
    """Tags of one project in release order: X.Y.Z-rc1 < X.Y.Z-rc2 < X.Y.Z < X.Y.(Z+1)-rc1."""
    version = tag.version
    return (version.major, version.minor, version.patch, 1 if tag.rc is None else 0, tag.rc or 0)


def previous_tag(tag: ReleaseTag, existing: Iterable[str]) -> ReleaseTag | None:
    """The tag `tag`'s notes start after (see the module's rule), among `existing` tag names; None for the first."""
    same_project = [t for t in parse_tags(existing) if t.project == tag.project and order_key(t) < order_key(tag)]
    if tag.rc is None:
        same_project = [t for t in same_project if t.rc is None]
    return max(same_project, key=order_key, default=None)


def project_paths(project: Project) -> tuple[str, ...]:
    """The folders whose commits belong to `project`'s notes: its own and the catalog's extra paths for it."""
    return (project.directory, *project.extra_paths)


def span_of(tag_name: str, existing: Iterable[str]) -> Span:
    """The span of `tag_name` given every tag of the repository (InputError for a malformed tag)."""
    tag = parse_tag(tag_name)
    return Span(tag, previous_tag(tag, existing), project_paths(get_project(tag.project)))
