"""Who must have signed a wheel RC's staging record: the trust anchor of `wheels find-rc --require-staging`.

The record (`staging-record.json` on the RC's GitHub pre-release) is uploaded with a workflow's
GITHUB_TOKEN, so GitHub names its uploader `github-actions[bot]`; but every run of every workflow of
the repository uploads as that same account, a branch's or a pull request's included. The uploader
therefore proves nothing about which run wrote the record. What does is a Sigstore keyless signature
made in the job that writes it (`staging-record` of the RC build), whose bundle sits next to the record
(`staging-record.json.sigstore.json`): Fulcio writes into the certificate what GitHub's OIDC token says
about the run, and only one run can get this certificate:

- SAN `https://github.com/{repository}/.github/workflows/build-rocks.yml@refs/tags/{rc tag}`,
- OIDC issuer `https://token.actions.githubusercontent.com`,
- workflow repository `{repository}`, ref `refs/tags/{rc tag}`, trigger `push`.

A run of another workflow file, of a branch or another tag, of a fork or another repository, or
started by another event (a pull request, a manual dispatch) gets a certificate that says so, and the
signature is refused; so is a signature over any other bytes than the record read.
"""

from __future__ import annotations

from pipelines.core.catalog import Project
from pipelines.core.errors import RuleRefused
from pipelines.core.tags import REFS_PREFIX
from pipelines.edges.sigstore_bundles import BundleVerifier, GitHubSigner
from pipelines.staging.wheel_record import RECORD_ASSET
from pipelines.wheels.trusted_publishers import workflow_file

SIGNATURE_ASSET = f"{RECORD_ASSET}.sigstore.json"  # the name sigstore sign --bundle and the sigstore action give it
SIGNING_JOB = "staging-record"
TRIGGER = "push"  # an RC build starts only on the push of its tag


def record_signer(project: Project, repository: str, tag: str) -> GitHubSigner:
    """The one run whose signature makes the staging record of `tag` (of `repository`, OWNER/REPO) count."""
    ref = f"{REFS_PREFIX}{tag}"
    workflow = workflow_file("build", project)
    return GitHubSigner(
        identity=f"https://github.com/{repository}/.github/workflows/{workflow}@{ref}",
        repository=repository,
        ref=ref,
        trigger=TRIGGER,
    )


def require_signed(
    record: bytes, bundle: bytes | None, signer: GitHubSigner, verifier: BundleVerifier, *, tag: str
) -> None:
    """Return when `bundle` is `signer`'s signature over exactly `record`; RuleRefused (or Corrupt) otherwise."""
    hint = (
        f"re-run the {SIGNING_JOB} job of {tag}'s build, which signs the record as {signer.identity}; "
        "or fix what failed and push the next rc tag"
    )
    if bundle is None:
        raise RuleRefused(
            f"the staging record of {tag} is not signed: its GitHub release has no {SIGNATURE_ASSET}, and an "
            "unsigned record could have been attached by any workflow run of the repository",
            hint=hint,
        )
    verifier.verify(record, bundle, signer, where=f"{RECORD_ASSET} of {tag}", hint=hint)
