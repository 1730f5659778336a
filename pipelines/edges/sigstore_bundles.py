"""Sigstore verification of one file against its bundle, with sigstore-python: the one module that imports it.

`BundleVerifier()` trusts Sigstore's public-good instance, whose trusted root it fetches through TUF
on first use (what `sigstore verify` does); `BundleVerifier(trusted_root=FILE)` trusts the instance a
`trusted_root.json` describes instead (a private Sigstore deployment, or the tests' own): that file is
the one seam, and everything after it is sigstore-python's `Verifier`. `verify` checks what that
verifier checks (the certificate chains to the instance's CA at the time the log recorded, carries the
CT log's SCT, the Rekor entry's inclusion proof, checkpoint and promise hold, and the signature is over
exactly the bytes given) and that the certificate names the `GitHubSigner`: its SAN, the OIDC issuer,
and the GitHub workflow extensions for the repository, the ref and the event that ran it.

sigstore is imported inside the methods: only the commands that verify pay for loading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.core.errors import Corrupt, InputError, RuleRefused, Unavailable
from pipelines.edges.files import read_bytes

if TYPE_CHECKING:
    from sigstore.verify import Verifier

GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class GitHubSigner:
    """A GitHub Actions workflow run, as Fulcio writes it into a signing certificate."""

    identity: str  # the SAN: https://github.com/OWNER/REPO/.github/workflows/FILE@REF
    repository: str  # OWNER/REPO
    ref: str  # e.g. refs/tags/NAME
    trigger: str  # the event, e.g. push
    issuer: str = GITHUB_ACTIONS_ISSUER


class BundleVerifier:
    """Verify Sigstore bundles against one Sigstore instance: the public-good one, or `trusted_root`'s."""

    def __init__(self, trusted_root: Path | None = None) -> None:
        self._trusted_root = trusted_root
        self._verifier: Verifier | None = None

    def _load(self) -> Verifier:
        from sigstore.errors import Error
        from sigstore.models import TrustedRoot
        from sigstore.verify import Verifier

        if self._verifier is not None:
            return self._verifier
        if self._trusted_root is None:
            try:
                self._verifier = Verifier.production()
            except Error as error:
                raise Unavailable(
                    f"could not read the trusted root of Sigstore's public-good instance through TUF: {error}",
                    hint="check that tuf-repo-cdn.sigstore.dev is reachable, then run it again",
                ) from None
            return self._verifier
        fix = "give the trusted_root.json of the Sigstore instance that signed (protobuf-specs TrustedRoot 0.1)"
        try:  # the one regular-file check first: a FIFO or a device there would block the read
            read_bytes(self._trusted_root, fix=fix)
        except InputError as error:
            message = f"{self._trusted_root} is not a readable Sigstore trusted root: {error.message}"
            raise InputError(message, hint=fix) from None
        try:
            self._verifier = Verifier(trusted_root=TrustedRoot.from_file(str(self._trusted_root)))
        except (OSError, ValueError, Error) as error:
            raise InputError(
                f"{self._trusted_root} is not a readable Sigstore trusted root: {error}",
                hint="give the trusted_root.json of the Sigstore instance that signed (protobuf-specs TrustedRoot 0.1)",
            ) from None
        return self._verifier

    def verify(self, content: bytes, bundle: bytes, signer: GitHubSigner, *, where: str, hint: str) -> None:
        """Return when `bundle` is a valid signature of exactly `content` by `signer`; raise otherwise.

        `where` names the signed file in messages and `hint` says how to get a good signature: a
        bundle that is no Sigstore bundle is Corrupt, one that does not verify is RuleRefused.
        """
        from sigstore.models import Bundle
        from sigstore.verify import policy

        verifier = self._load()
        # sigstore-python meets a hostile bundle with more than its own errors: cryptography's ValueError
        # or ExtensionNotFound for a malformed certificate, datetime's OverflowError or OSError for a log
        # time out of range. Whatever it raises, the bundle did not verify: refuse it (fail closed), and
        # say why instead of printing a traceback.
        try:
            parsed = Bundle.from_json(bundle)
        except Exception as error:
            raise Corrupt(f"the signature of {where} is not a Sigstore bundle: {error}", hint=hint) from None
        expected = policy.AllOf(
            [
                policy.Identity(identity=signer.identity, issuer=signer.issuer),
                policy.GitHubWorkflowRepository(signer.repository),
                policy.GitHubWorkflowRef(signer.ref),
                policy.GitHubWorkflowTrigger(signer.trigger),
                # The workflow file that ran, not only the one named in the SAN: a workflow calling
                # build-rocks.yml as a reusable workflow would otherwise sign as it.
                policy.OIDCBuildConfigURI(signer.identity),
            ]
        )
        try:
            verifier.verify_artifact(content, parsed, expected)
        except Exception as error:
            raise RuleRefused(f"the signature of {where} does not verify: {error}", hint=hint) from None
