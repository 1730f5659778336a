"""Commits into the sections of release notes: breaking changes first, then features, fixes, performance,
security, reverts and other.

Left out: merge commits (their changes are listed as their own commits), `chore(release)` commits (the
version bumps of a release), and a commit together with its revert when both are in the same range
(the change never shipped). Every other commit lands in exactly one section: a commit that does not
follow the convention, or whose type has no section of its own (docs, refactor, ci, …), is "other".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipelines.notes.commits import Commit

# Section key, title, and the commit types it takes; order is the order of the notes.
SECTIONS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("breaking", "Breaking changes", frozenset()),
    ("features", "Features", frozenset({"feat", "feature"})),
    ("fixes", "Fixes", frozenset({"fix", "bugfix"})),
    ("performance", "Performance", frozenset({"perf"})),
    ("security", "Security", frozenset({"security", "sec"})),
    ("reverts", "Reverts", frozenset({"revert"})),
    ("other", "Other changes", frozenset()),
)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    commits: tuple[Commit, ...]


def is_noise(commit: Commit) -> bool:
    """A merge commit or a release's own `chore(release)` commit."""
    return commit.is_merge or (commit.type == "chore" and (commit.scope or "").lower() == "release")


def section_of(commit: Commit) -> str:
    if commit.breaking:
        return "breaking"
    if (commit.scope or "").lower() == "security" and commit.type in ("fix", "feat"):
        return "security"
    for key, _, types in SECTIONS:
        if commit.type in types:
            return key
    return "other"


def _cancelled(commits: list[Commit]) -> set[str]:
    """SHAs of reverts whose reverted commit is in the range, and of those commits."""
    by_sha = {commit.sha: commit for commit in commits}
    by_subject: dict[str, Commit] = {}
    for commit in reversed(commits):  # oldest first: a subject names the newest such commit before its revert
        by_subject[commit.subject] = commit
    cancelled: set[str] = set()
    for commit in reversed(commits):
        if commit.type != "revert" or commit.reverts is None or commit.sha in cancelled:
            continue
        target = by_sha.get(commit.reverts) or by_subject.get(commit.reverts)
        if target is not None and target.sha != commit.sha and target.sha not in cancelled:
            cancelled |= {commit.sha, target.sha}
    return cancelled


def group(commits: Iterable[Commit]) -> tuple[Section, ...]:
    """The non-empty sections of `commits` (newest first inside each section, as given)."""
    kept = [commit for commit in commits if not is_noise(commit)]
    cancelled = _cancelled(kept)
    sections = []
    for key, title, _ in SECTIONS:
        members = tuple(c for c in kept if c.sha not in cancelled and section_of(c) == key)
        if members:
            sections.append(Section(key, title, members))
    return tuple(sections)
