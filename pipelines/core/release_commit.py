"""The rule that ties a release to what was tested: the release tag's commit must be the commit
the promoted RC was built from. Image promotion and wheel promotion both apply it.
"""

from __future__ import annotations

from enum import Enum

from pipelines.core.errors import RuleRefused
from pipelines.core.values import Value


class CommitStatus(str, Enum):
    MATCH = "match"
    MISMATCH_ALLOWED = "mismatch-allowed"
    SKIPPED = "skipped"


class CommitCheck(Value):
    status: CommitStatus
    detail: str
    release_commit: str | None = None


def check_commit(
    source: str,
    source_sha: str | None,
    release_tag: str,
    commit: str | None,
    *,
    in_checkout: bool,
    allow_mismatch: bool,
) -> CommitCheck:
    """Compare the release tag's commit with the commit `source` was built from (a SHA or its prefix).

    `commit` is what the release tag points at in the checkout, `source_sha` what the RC was
    built from (None when unknown there); `in_checkout` is False outside any git checkout,
    where nothing can be compared. CheckFailed on a mismatch unless it is allowed.
    """
    if not in_checkout:
        return CommitCheck(CommitStatus.SKIPPED, f"not in a git checkout: the commit of {release_tag} was not checked")
    if commit is not None and source_sha is not None and commit.lower().startswith(source_sha.lower()):
        return CommitCheck(CommitStatus.MATCH, f"{release_tag} is commit {commit[:12]}, the commit of {source}", commit)
    if commit is None or source_sha is None:
        missing = release_tag if commit is None else source
        problem = f"{missing} is not in this checkout, so {release_tag} cannot be compared with {source}"
        hint = "fetch tags (git fetch --tags) or pass --root DIR of the monorepo checkout"
    else:
        problem = (
            f"{release_tag} is commit {commit[:12]}, but the newest complete {source} was built from {source_sha[:12]}"
        )
        hint = f"tag the commit {source_sha[:12]} as {release_tag}, or build an RC of this commit and let it finish"
    if allow_mismatch:
        return CommitCheck(CommitStatus.MISMATCH_ALLOWED, f"{problem} (allowed by --allow-commit-mismatch)", commit)
    raise RuleRefused(problem, hint=f"{hint}; --allow-commit-mismatch promotes anyway")
