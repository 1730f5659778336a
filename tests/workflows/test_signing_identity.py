"""The image release verifies its signatures against exactly this run's identity.

The verify step's own script runs under bash with a stand-in `cosign` that records its
arguments; the certificate identity regexp it builds must admit the reusable workflow at this
run's tag (GitHub's documented `job_workflow_ref`) or at this run's commit (what a `$/` call
resolves to), and nothing else: no other tag, branch, workflow file or repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.workflows.stand_ins import cosign_calls, option

SHA = "0123456789abcdef0123456789abcdef01234567"
TAG = "percolate-v0.2.0"
REPOSITORY = "percolation-labs/percolate"
WORKFLOW = f"https://github.com/{REPOSITORY}/.github/workflows/_release-image.yml"
DIGESTS = {
    "INDEX_DIGEST": "sha256:" + "a" * 64,
    "DIGEST_AMD64": "sha256:" + "b" * 64,
    "DIGEST_ARM64": "sha256:" + "c" * 64,
}


@pytest.fixture
def verify_calls(workflows, tmp_path: Path) -> list[list[str]]:
    [step] = [
        s for s in workflows["_release-image.yml"].jobs["sign"].steps if (s.data.get("name") or "").startswith("Verify")
    ]
    env = {
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_REF": f"refs/tags/{TAG}",
        "GITHUB_SHA": SHA,
        "REPOSITORY": f"ghcr.io/{REPOSITORY}",
        "CERTIFICATE_OIDC_ISSUER": "https://token.actions.githubusercontent.com",
        **DIGESTS,
    }
    return cosign_calls(step.run, tmp_path, env)


def test_every_signature_and_attestation_is_verified(verify_calls):
    verified = [(call[0], call[-1]) for call in verify_calls]
    image = f"ghcr.io/{REPOSITORY}@"
    assert verified == [
        ("verify", image + DIGESTS["INDEX_DIGEST"]),
        ("verify", image + DIGESTS["DIGEST_AMD64"]),
        ("verify-attestation", image + DIGESTS["DIGEST_AMD64"]),
        ("verify", image + DIGESTS["DIGEST_ARM64"]),
        ("verify-attestation", image + DIGESTS["DIGEST_ARM64"]),
    ]
    for call in verify_calls:
        assert option(call, "--certificate-github-workflow-sha") == SHA
        assert option(call, "--certificate-github-workflow-ref") == f"refs/tags/{TAG}"
        assert option(call, "--certificate-github-workflow-repository") == REPOSITORY
        assert option(call, "--certificate-oidc-issuer") == "https://token.actions.githubusercontent.com"
        assert "--certificate-identity" not in call


@pytest.mark.parametrize("ref", [f"refs/tags/{TAG}", SHA])
def test_the_identity_admits_the_workflow_at_this_tag_or_this_commit(verify_calls, ref):
    identity = re.compile(option(verify_calls[0], "--certificate-identity-regexp"))
    assert identity.search(f"{WORKFLOW}@{ref}")


@pytest.mark.parametrize(
    "other",
    [
        f"{WORKFLOW}@refs/tags/percolate-v0x2x0",  # dots are literal
        f"{WORKFLOW}@refs/tags/{TAG}-rc1",
        f"{WORKFLOW}@refs/heads/main",
        f"{WORKFLOW}@{'f' * 40}",
        f"https://github.com/{REPOSITORY}/.github/workflows/release-percolate.yml@refs/tags/{TAG}",
        f"https://github.com/evil/percolate/.github/workflows/_release-image.yml@refs/tags/{TAG}",
        f"https://github.com/{REPOSITORY}x/.github/workflows/_release-image.yml@refs/tags/{TAG}",
        f"x{WORKFLOW}@refs/tags/{TAG}",
    ],
)
def test_the_identity_refuses_any_other_workflow_ref_or_repository(verify_calls, other):
    identity = re.compile(option(verify_calls[0], "--certificate-identity-regexp"))
    assert not identity.search(other)
