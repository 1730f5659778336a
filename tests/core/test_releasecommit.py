"""The release tag's commit must be the commit the promoted RC was built from."""

from __future__ import annotations

import pytest

from pipelines.core.errors import CheckFailed
from pipelines.core.release_commit import CommitStatus, check_commit

FULL = "abc1234" + "0" * 33


@pytest.mark.parametrize(
    ("source_sha", "commit", "in_checkout", "allow", "status"),
    [
        ("abc1234", FULL, True, False, CommitStatus.MATCH),  # a CalVer tag's 7-digit prefix
        ("ABC1234", FULL, True, False, CommitStatus.MATCH),
        (FULL, FULL, True, False, CommitStatus.MATCH),  # an RC tag's full commit
        ("abc1234", "fff1234" + "0" * 33, True, True, CommitStatus.MISMATCH_ALLOWED),
        ("abc1234", None, True, True, CommitStatus.MISMATCH_ALLOWED),
        (None, FULL, True, True, CommitStatus.MISMATCH_ALLOWED),
        ("abc1234", None, False, False, CommitStatus.SKIPPED),
    ],
)
def test_outcomes(source_sha, commit, in_checkout, allow, status):
    checked = check_commit(
        "build b", source_sha, "percolate-v0.1.0", commit, in_checkout=in_checkout, allow_mismatch=allow
    )
    assert checked.status is status


@pytest.mark.parametrize(
    ("source_sha", "commit", "message"),
    [
        ("abc1234", "fff1234" + "0" * 33, "percolate-v0.1.0 is commit fff123400000, but the newest complete build b"),
        ("abc1234", None, "percolate-v0.1.0 is not in this checkout"),
        (None, FULL, "build b is not in this checkout"),
        (FULL, "abc1235" + "0" * 33, "was built from abc123400000"),
    ],
)
def test_a_mismatch_fails_naming_both_sides(source_sha, commit, message):
    with pytest.raises(CheckFailed, match=message) as caught:
        check_commit("build b", source_sha, "percolate-v0.1.0", commit, in_checkout=True, allow_mismatch=False)
    assert "--allow-commit-mismatch" in str(caught.value.hint)
