"""A Sigstore instance of the tests' own: what Fulcio, its CT log and Rekor would hand a GitHub workflow.

Fulcio, Rekor and Sigstore's TUF repository cannot run here, and a mock verifier would test
nothing. `LocalSigstore` instead holds the three keys a Sigstore deployment is made of and
publishes them as a real `trusted_root.json` (the protobuf-specs TrustedRoot, media type 0.1),
which sigstore-python's own `Verifier` takes in place of the public-good instance's:

- a certificate authority standing in for Fulcio (P-384, like Fulcio's), which issues each
  signature a ten-minute leaf certificate the way Fulcio does for a GitHub Actions token: an
  empty subject, the workflow URI as a critical SAN, code signing, the Fulcio extensions
  1.3.6.1.4.1.57264.1.* (the raw-string ones 1.1-1.6 and the DER UTF8String ones from 1.8), and
  one embedded SCT;
- a CT log key that signs that SCT over the precertificate (RFC 6962 §3.2: the TBSCertificate
  without the SCT list, bound to the issuer's key hash);
- a Rekor key that signs the hashedrekord v0.0.1 entry's inclusion promise (SET) and the
  checkpoint (a signed note) of a small RFC 6962 Merkle tree holding the entry.

`sign` returns a Sigstore bundle (v0.3 JSON) as `sigstore sign --bundle` writes it. Nothing here
borrows sigstore-python's code: every structure is built from its specification, so the verifier
checks our reading of the specifications, not itself. Times are whole seconds: an SCT timestamp
is milliseconds, and a whole second survives every conversion exactly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
FULCIO = "1.3.6.1.4.1.57264.1"
SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
LEAF_LIFETIME = timedelta(minutes=10)  # what Fulcio gives a certificate
FILLER_LEAVES = 5  # entries logged before ours, so the inclusion proof has a path to check


@dataclass(frozen=True)
class GitHubClaims:
    """What a GitHub Actions OIDC token says about the run that signs, as Fulcio copies it into the certificate."""

    repository: str
    workflow: str  # the file name, e.g. build-rocks.yml
    ref: str
    trigger: str = "push"
    sha: str = "0123456789abcdef0123456789abcdef01234567"

    @property
    def identity(self) -> str:
        """The SAN Fulcio writes: the workflow file at the ref it ran from."""
        return f"https://github.com/{self.repository}/.github/workflows/{self.workflow}@{self.ref}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _tls_vector(data: bytes, length_bytes: int) -> bytes:
    return len(data).to_bytes(length_bytes, "big") + data


def _fulcio_extensions(claims: GitHubClaims, issuer: str) -> list[x509.UnrecognizedExtension]:
    """Fulcio's extensions for a GitHub Actions token (docs/oid-info.md of sigstore/fulcio)."""
    server = "https://github.com"
    repository_uri = f"{server}/{claims.repository}"
    workflow_uri = f"{repository_uri}/.github/workflows/{claims.workflow}@{claims.ref}"
    raw = {  # the deprecated extensions: the value's bytes, not DER
        1: issuer,
        2: claims.trigger,
        3: claims.sha,
        4: claims.workflow,
        5: claims.repository,
        6: claims.ref,
    }
    encoded = {  # the current ones: a DER UTF8String each
        8: issuer,
        9: workflow_uri,
        10: claims.sha,
        11: "github-hosted",
        12: repository_uri,
        13: claims.sha,
        14: claims.ref,
        18: workflow_uri,
        19: claims.sha,
        20: claims.trigger,
        21: f"{repository_uri}/actions/runs/7/attempts/1",
        22: "public",
    }
    extensions = [
        x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{FULCIO}.{n}"), v.encode()) for n, v in raw.items()
    ]
    extensions += [
        x509.UnrecognizedExtension(x509.ObjectIdentifier(f"{FULCIO}.{n}"), _der(0x0C, v.encode()))
        for n, v in encoded.items()
    ]
    return extensions


def _merkle_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 6962 §2.1 over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two below the size
    return hashlib.sha256(b"\x01" + _merkle_root(leaves[:split]) + _merkle_root(leaves[split:])).digest()


def _audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1: the sibling hashes from the leaf up to the root."""
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*_audit_path(index, leaves[:split]), _merkle_root(leaves[split:])]
    return [*_audit_path(index - split, leaves[split:]), _merkle_root(leaves[:split])]


class LocalSigstore:
    """A CA (Fulcio), a CT log and a Rekor log of the tests' own; `trusted_root()` is what a verifier trusts."""

    origin = "rekor.test.invalid - 1"

    def __init__(self, name: str = "percolate tests") -> None:
        self.since = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        self._ca_key = ec.generate_private_key(ec.SECP384R1())
        self._ct_key = ec.generate_private_key(ec.SECP256R1())
        self._rekor_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name} fulcio"),
            ]
        )
        self._ca = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.since)
            .not_valid_after(self.since + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._ca_key.public_key()), critical=False)
            .sign(self._ca_key, hashes.SHA384())
        )
        self._name = name

    # ---- what a verifier trusts -------------------------------------------------------------------

    def trusted_root(self) -> bytes:
        """This instance as a Sigstore TrustedRoot document (what TUF would deliver for the public-good one)."""
        valid_for = {"start": self.since.strftime("%Y-%m-%dT%H:%M:%SZ")}

        def log(base_url: str, key: ec.EllipticCurvePrivateKey) -> dict[str, object]:
            return {
                "baseUrl": base_url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(_spki(key)),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": valid_for,
                },
                "logId": {"keyId": _b64(hashlib.sha256(_spki(key)).digest())},
            }

        document = {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log("https://rekor.test.invalid", self._rekor_key)],
            "certificateAuthorities": [
                {
                    "subject": {"organization": self._name, "commonName": f"{self._name} fulcio"},
                    "uri": "https://fulcio.test.invalid",
                    "certChain": {
                        "certificates": [{"rawBytes": _b64(self._ca.public_bytes(serialization.Encoding.DER))}]
                    },
                    "validFor": valid_for,
                }
            ],
            "ctlogs": [log("https://ctfe.test.invalid/test", self._ct_key)],
            "timestampAuthorities": [],
        }
        return json.dumps(document, indent=2).encode()

    def write_trusted_root(self, path: Path) -> Path:
        path.write_bytes(self.trusted_root())
        return path

    def client_trust_config(self) -> bytes:
        """The trusted root wrapped as the sigstore CLI's `--trust-config` file (no services to sign with)."""
        document = {
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": json.loads(self.trusted_root()),
            "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"},
        }
        return json.dumps(document, indent=2).encode()

    # ---- what signing produces --------------------------------------------------------------------

    def sign(self, content: bytes, claims: GitHubClaims, *, san: str | None = None) -> bytes:
        """A Sigstore bundle of `content` signed by a run with `claims`. `san` replaces the certificate's
        SAN alone (a certificate Fulcio would never issue), to test each extension check on its own."""
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = self._leaf(key, claims, san or claims.identity, at)
        signature = key.sign(content, ec.ECDSA(hashes.SHA256()))
        digest = hashlib.sha256(content).digest()
        body = self._hashedrekord(certificate, signature, digest)
        bundle = {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": _b64(certificate.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [self._log_entry(body, int(at.timestamp()))],
            },
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(digest)},
                "signature": _b64(signature),
            },
        }
        return json.dumps(bundle, indent=2).encode()

    def _leaf(self, key: ec.EllipticCurvePrivateKey, claims: GitHubClaims, san: str, at: datetime) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self._ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at)
            .not_valid_after(at + LEAF_LIFETIME)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(san)]), critical=True)
        )
        for extension in _fulcio_extensions(claims, GITHUB_ISSUER):
            builder = builder.add_extension(extension, critical=False)
        # The precertificate the CT log saw: everything but the SCT list, which comes last so that
        # the final certificate minus that extension is this TBSCertificate byte for byte.
        precertificate = builder.sign(self._ca_key, hashes.SHA384())
        sct = self._sct(precertificate.tbs_certificate_bytes, at)
        sct_list = _der(0x04, _tls_vector(_tls_vector(sct, 2), 2))
        return builder.add_extension(x509.UnrecognizedExtension(SCT_LIST_OID, sct_list), critical=False).sign(
            self._ca_key, hashes.SHA384()
        )

    def _sct(self, tbs: bytes, at: datetime) -> bytes:
        """A v1 SCT for a precert_entry (RFC 6962 §3.2), signed by the CT log's key."""
        timestamp = struct.pack(">Q", int(at.timestamp()) * 1000)
        issuer_key_hash = hashlib.sha256(_spki(self._ca_key)).digest()
        signed = (
            b"\x00"  # version v1
            + b"\x00"  # signature_type certificate_timestamp
            + timestamp
            + b"\x00\x01"  # entry_type precert_entry
            + issuer_key_hash
            + _tls_vector(tbs, 3)
            + _tls_vector(b"", 2)  # no extensions
        )
        signature = self._ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        log_id = hashlib.sha256(_spki(self._ct_key)).digest()
        # digitally-signed: hash sha256 (4), signature ecdsa (3), then the signature
        return b"\x00" + log_id + timestamp + _tls_vector(b"", 2) + b"\x04\x03" + _tls_vector(signature, 2)

    @staticmethod
    def _hashedrekord(certificate: x509.Certificate, signature: bytes, digest: bytes) -> bytes:
        """Rekor's canonical body of a hashedrekord v0.0.1 entry (keys sorted, no spaces)."""
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        entry = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {"content": _b64(signature), "publicKey": {"content": _b64(pem)}},
            },
        }
        return json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()

    def _log_entry(self, body: bytes, integrated_time: int) -> dict[str, object]:
        """The bundle's tlog entry: the body at the end of a small log, with its SET, inclusion proof and checkpoint."""
        log_id = hashlib.sha256(_spki(self._rekor_key)).digest()
        leaves = [hashlib.sha256(b"\x00" + f"earlier entry {n}".encode()).digest() for n in range(FILLER_LEAVES)]
        leaves.append(hashlib.sha256(b"\x00" + body).digest())
        index = len(leaves) - 1
        root = _merkle_root(leaves)
        # The inclusion promise signs RFC 8785 JSON; for these ASCII strings and integers that is
        # sorted keys without spaces.
        promise = json.dumps(
            {"body": _b64(body), "integratedTime": integrated_time, "logID": log_id.hex(), "logIndex": index},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        note = f"{self.origin}\n{len(leaves)}\n{_b64(root)}\n"
        note_signature = self._rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        checkpoint = f"{note}\n\u2014 {self.origin.split()[0]} {_b64(log_id[:4] + note_signature)}\n"
        return {
            "logIndex": str(index),
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {
                "signedEntryTimestamp": _b64(self._rekor_key.sign(promise, ec.ECDSA(hashes.SHA256())))
            },
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": _b64(root),
                "treeSize": str(len(leaves)),
                "hashes": [_b64(h) for h in _audit_path(index, leaves)],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": _b64(body),
        }
