"""The staging record of a wheel RC counts only when signed by its own RC build (`wheels find-rc --require-staging`).

Every workflow run of the repository uploads release assets as `github-actions[bot]`, so the
uploader proves nothing; the record's Sigstore bundle must verify over the exact bytes read, with a
certificate for `build-rocks.yml` of this repository at the RC's tag, pushed, issued by GitHub Actions.

The bundles come from a Sigstore instance of the tests' own (tests/support/sigstore_kit.py), and
sigstore-python's real `Verifier` checks them against that instance's trusted root: the CA chain, the
SCT, the log entry's inclusion proof, checkpoint and promise, the signature, and the policy. Each
signer below differs from the right one in one claim only; the first case, the right one, is the
control that the others fail for that claim and nothing else.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import example, given
from hypothesis import strategies as st

from kit.loopback import free_port
from pipelines.core.catalog import get_project
from pipelines.core.errors import Corrupt, InputError, RuleRefused
from pipelines.edges.sigstore_bundles import BundleVerifier
from pipelines.staging.wheel_record import RECORD_ASSET
from pipelines.staging.wheel_signature import SIGNATURE_ASSET, record_signer, require_signed
from tests.support.sigstore_kit import LocalSigstore
from tests.test_cli import imported_by
from tests.wheels.conftest import OUTSIDE_A_CHECKOUT, RC2, RC2_BUILD, REPOSITORY, find_rc, record

RC1 = "percolate-rocks-v0.2.0-rc1"
ROCKS = get_project("percolate-rocks")
RECORD = b'{"kind": "wheel-staging-record", "result": "passed"}\n'  # any bytes: the signature is about bytes

# (claims of the run that signed, SAN if Fulcio's were replaced, accepted, what the refusal names)
SIGNERS = {
    "the rc's own build": (RC2_BUILD, None, True, ""),
    "another workflow": (dataclasses.replace(RC2_BUILD, workflow="release-rocks.yml"), None, False, "SANs"),
    "a branch's run of the workflow": (dataclasses.replace(RC2_BUILD, ref="refs/heads/main"), None, False, "SANs"),
    "another rc's build": (dataclasses.replace(RC2_BUILD, ref=f"refs/tags/{RC1}"), None, False, "SANs"),
    "a fork": (dataclasses.replace(RC2_BUILD, repository="mallory/percolate"), None, False, "SANs"),
    "a pull request": (dataclasses.replace(RC2_BUILD, trigger="pull_request"), None, False, "GitHubWorkflowTrigger"),
    "a manual dispatch at the tag": (
        dataclasses.replace(RC2_BUILD, trigger="workflow_dispatch"),
        None,
        False,
        "GitHubWorkflowTrigger",
    ),
    # Certificates Fulcio would never issue (the right SAN over other claims): each extension is checked.
    "the right SAN, another repository": (
        dataclasses.replace(RC2_BUILD, repository="mallory/percolate"),
        RC2_BUILD.identity,
        False,
        "GitHubWorkflowRepository",
    ),
    "the right SAN, run by another workflow calling it": (
        dataclasses.replace(RC2_BUILD, workflow="ci.yml"),
        RC2_BUILD.identity,
        False,
        "OIDCBuildConfigURI",
    ),
    "the right SAN, another ref": (
        dataclasses.replace(RC2_BUILD, ref=f"refs/tags/{RC1}"),
        RC2_BUILD.identity,
        False,
        "GitHubWorkflowRef",
    ),
}


def test_the_signer_is_the_rc_build_workflow_of_this_repository_at_the_rc_tag():
    signer = record_signer(ROCKS, REPOSITORY, RC2)
    assert signer.identity == f"https://github.com/{REPOSITORY}/.github/workflows/build-rocks.yml@refs/tags/{RC2}"
    assert (signer.repository, signer.ref, signer.trigger) == (REPOSITORY, f"refs/tags/{RC2}", "push")
    assert signer.issuer == "https://token.actions.githubusercontent.com"
    assert signer.identity == RC2_BUILD.identity  # the kit's Fulcio writes the SAN the same way


@pytest.mark.parametrize("case", list(SIGNERS))
def test_only_the_rc_build_at_its_tag_signs_a_record_that_counts(sigstore, trusted_root, case):
    claims, san, accepted, named = SIGNERS[case]
    bundle = sigstore.sign(RECORD, claims, san=san)
    verify = BundleVerifier(trusted_root)
    if accepted:
        require_signed(RECORD, bundle, record_signer(ROCKS, REPOSITORY, RC2), verify, tag=RC2)
        return
    with pytest.raises(RuleRefused) as refused:
        require_signed(RECORD, bundle, record_signer(ROCKS, REPOSITORY, RC2), verify, tag=RC2)
    assert named in refused.value.message
    assert f"re-run the staging-record job of {RC2}'s build" in str(refused.value.hint)


def test_a_signature_over_other_bytes_is_refused(sigstore, trusted_root):
    bundle = sigstore.sign(RECORD.replace(b"passed", b"failed"), RC2_BUILD)
    with pytest.raises(RuleRefused, match="does not verify"):
        require_signed(RECORD, bundle, record_signer(ROCKS, REPOSITORY, RC2), BundleVerifier(trusted_root), tag=RC2)


def test_a_signature_from_another_sigstore_instance_is_refused(trusted_root):
    """The right claims, but a CA, CT log and Rekor log the trusted root does not name."""
    bundle = LocalSigstore("someone else").sign(RECORD, RC2_BUILD)
    with pytest.raises(RuleRefused, match="does not verify"):
        require_signed(RECORD, bundle, record_signer(ROCKS, REPOSITORY, RC2), BundleVerifier(trusted_root), tag=RC2)


@pytest.mark.parametrize("bundle", [b"", b"{}", b"not json", json.dumps({"mediaType": "text/plain"}).encode()])
def test_a_bundle_that_is_no_sigstore_bundle_is_corrupt(trusted_root, bundle):
    with pytest.raises(Corrupt, match="is not a Sigstore bundle"):
        require_signed(RECORD, bundle, record_signer(ROCKS, REPOSITORY, RC2), BundleVerifier(trusted_root), tag=RC2)


# ---- damaged bundles (hypothesis) ----------------------------------------------------------------

KIT = LocalSigstore("hypothesis")
SIGNED = json.loads(KIT.sign(RECORD, RC2_BUILD))


def _leaves(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (key path, value) of a JSON document's scalars."""
    if isinstance(node, dict | list):
        children = node.items() if isinstance(node, dict) else enumerate(node)
        return [leaf for key, child in children for leaf in _leaves(child, (*at, key))]
    return [(at, node)]


def _base64(value: Any) -> bytes | None:
    """The bytes a bundle field holds, if it is a non-empty base64 string."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True) or None
    except ValueError:  # not base64 (binascii.Error), or not ASCII
        return None


# The bundle's binary fields: the certificate, signature, digest, log id, root hash, proof hashes,
# promise and entry body. Numbers travel as strings and decode too; they are left to the next test.
BINARY = [place for place, value in _leaves(SIGNED) if _base64(value) and not str(value).isdigit()]
PLACES = [place for place, _ in _leaves(SIGNED)]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=0, max_value=2**64 - 1).map(str)  # numbers travel as strings (protobuf's uint64)
    | st.text(max_size=20)
    | st.binary(max_size=40).map(lambda raw: base64.b64encode(raw).decode()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def kit_verifier(tmp_path_factory: pytest.TempPathFactory) -> BundleVerifier:
    return BundleVerifier(KIT.write_trusted_root(tmp_path_factory.mktemp("kit") / "root.json"))


def _verify(verifier: BundleVerifier, document: dict[str, Any]) -> None:
    require_signed(RECORD, json.dumps(document).encode(), record_signer(ROCKS, REPOSITORY, RC2), verifier, tag=RC2)


def _set(document: dict[str, Any], place: tuple[Any, ...], value: Any) -> None:
    parent = document
    for key in place[:-1]:
        parent = parent[key]
    if value is ...:
        del parent[place[-1]]
    else:
        parent[place[-1]] = value


def test_the_undamaged_bundle_verifies(kit_verifier):
    assert len(BINARY) >= 9
    _verify(kit_verifier, SIGNED)  # the control of the two properties below


@given(place=st.sampled_from(BINARY), where=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_bit_flipped_in_a_binary_field_is_refused(kit_verifier, place, where, bit):
    """Every binary field is bound to the record, the log or the CA: one changed bit and nothing verifies."""
    document = copy.deepcopy(SIGNED)
    raw = bytearray(_base64(dict(_leaves(SIGNED))[place]) or b"")
    raw[where % len(raw)] ^= 1 << bit
    _set(document, place, base64.b64encode(bytes(raw)).decode())
    with pytest.raises((Corrupt, RuleRefused)):
        _verify(kit_verifier, document)


@given(changes=st.lists(st.tuples(st.sampled_from(PLACES), JSON_VALUES | st.just(...)), min_size=1, max_size=3))
@example(changes=[(("verificationMaterial", "certificate", "rawBytes"), "AAAA")])  # not DER: cryptography's ValueError
@example(changes=[(("verificationMaterial", "tlogEntries", 0, "integratedTime"), str(2**64 - 1))])  # OverflowError
@example(changes=[(("verificationMaterial", "tlogEntries", 0, "integratedTime"), str(2**63 - 1))])  # OSError
def test_a_damaged_bundle_is_refused_or_corrupt_never_a_crash(kit_verifier, changes):
    """Any field of a good bundle replaced or removed (`...`): a refusal or a verified bundle, never a traceback."""
    document = copy.deepcopy(SIGNED)
    for place, value in changes:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # an earlier change removed this place
            _set(document, place, value)
    with contextlib.suppress(Corrupt, RuleRefused):
        _verify(kit_verifier, document)


def test_a_bundle_whose_leaf_breaks_the_sigstore_profile_is_corrupt(trusted_root):
    """A 0.2 bundle's chain whose first certificate has no key usage: sigstore-python's parser meets it with
    cryptography's ExtensionNotFound, which must come out as a refusal, not a traceback."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "no key usage")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    document = copy.deepcopy(SIGNED)
    document["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2"
    material = document["verificationMaterial"]
    del material["certificate"]
    der = certificate.public_bytes(serialization.Encoding.DER)
    material["x509CertificateChain"] = {"certificates": [{"rawBytes": base64.b64encode(der).decode()}]}
    with pytest.raises(Corrupt, match="is not a Sigstore bundle"):
        _verify(BundleVerifier(trusted_root), document)


def test_an_unreadable_trusted_root_is_bad_input(tmp_path, sigstore):
    import os

    (tmp_path / "root.json").write_text('{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}')
    os.mkfifo(tmp_path / "fifo.json")  # would block the read forever: refused before it is opened
    for path in (tmp_path / "root.json", tmp_path / "missing.json", tmp_path / "fifo.json"):
        with pytest.raises(InputError, match="is not a readable Sigstore trusted root"):
            BundleVerifier(path).verify(
                RECORD, sigstore.sign(RECORD, RC2_BUILD), record_signer(ROCKS, REPOSITORY, RC2), where="x", hint="y"
            )


# ---- through the CLI: the record and its bundle on the RC's GitHub release ------------------------


@pytest.fixture
def passed(cli, published, tmp_path) -> bytes:
    return record(cli, published.url, "0.2.0rc2", "passed", tmp_path / "record.json")


def test_a_passed_record_uploaded_by_the_workflow_but_unsigned_is_refused(
    cli, published, releases, trusted_root, passed, tmp_path
):
    releases.attach(RC2, RECORD_ASSET, passed)  # github-actions[bot], as any workflow run would upload it
    result = find_rc(cli, published.url, tmp_path / "rc", releases, trusted_root)
    assert result.code == 1, result.stderr
    assert result.json()["cause"] == "refused"
    assert f"has no {SIGNATURE_ASSET}" in result.stderr
    assert f"re-run the staging-record job of {RC2}'s build" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "rc").exists(), "nothing is written for a refused RC"


@pytest.mark.parametrize(
    ("signed", "claims", "problem"),
    [
        ("the record", dataclasses.replace(RC2_BUILD, workflow="ci.yml"), "SANs do not match"),
        ("the record", dataclasses.replace(RC2_BUILD, trigger="pull_request"), "GitHubWorkflowTrigger"),
        ("other bytes", RC2_BUILD, "does not verify"),
    ],
)
def test_find_rc_refuses_a_record_signed_by_another_run_or_over_other_bytes(
    cli, published, releases, sigstore, trusted_root, passed, tmp_path, signed, claims, problem
):
    releases.attach(RC2, RECORD_ASSET, passed)
    releases.attach(RC2, SIGNATURE_ASSET, sigstore.sign(passed if signed == "the record" else passed + b" ", claims))
    result = find_rc(cli, published.url, tmp_path / "rc", releases, trusted_root)
    assert result.code == 1, result.stderr
    assert problem in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "rc").exists()


def test_a_record_replaced_after_signing_is_refused(cli, published, releases, sigstore, trusted_root, passed, tmp_path):
    """rc2's build signed its failed record; another run later uploads a passed one with --clobber."""
    failed = record(cli, published.url, "0.2.0rc2", "failed", tmp_path / "failed.json")
    releases.attach(RC2, RECORD_ASSET, failed)
    releases.attach(RC2, SIGNATURE_ASSET, sigstore.sign(failed, RC2_BUILD))
    releases.attach(RC2, RECORD_ASSET, passed)
    result = find_rc(cli, published.url, tmp_path / "rc", releases, trusted_root)
    assert result.code == 1 and "does not verify" in result.stderr, result.stderr
    assert not (tmp_path / "rc").exists()


def test_without_a_trusted_root_find_rc_trusts_the_public_good_instance_through_tuf(
    cli, published, releases, sigstore, passed, tmp_path
):
    """The production path: sigstore-python's TUF client fetches the public-good trusted root. Here its
    requests go to a proxy on a closed loopback port, so the fetch fails at once: exit 1, unavailable,
    nothing written, and a signature of any other instance is never looked at."""
    releases.attach(RC2, RECORD_ASSET, passed)
    releases.attach(RC2, SIGNATURE_ASSET, sigstore.sign(passed, RC2_BUILD))
    proxy = f"http://127.0.0.1:{free_port()}"
    home = tmp_path / "home"
    result = cli(
        "wheels", "find-rc", "percolate-rocks", "0.2.0", "--index", published.url, "--to", str(tmp_path / "rc"),
        "--require-staging", "--json", cwd=OUTSIDE_A_CHECKOUT,
        env={
            **releases.environment(), "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_DATA_HOME": str(home / "data"), "https_proxy": proxy, "HTTPS_PROXY": proxy,
            "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1",
        },
    )  # fmt: skip
    assert result.code == 1, result.stderr
    assert result.json()["cause"] == "unavailable"
    assert "public-good instance through TUF" in result.stderr
    assert not (tmp_path / "rc").exists()


@pytest.mark.parametrize("command", [("tag", "parse", "percolate-rocks-v0.2.0-rc2"), ("wheels", "find-rc", "--help")])
def test_sigstore_is_loaded_only_when_a_signature_is_verified(tmp_path, command):
    assert {name for name in imported_by(tmp_path, *command) if name.split(".")[0] in {"sigstore", "tuf"}} == set()
