"""Real minimal images pushed into a registry with plain HTTP requests (no code under test involved).

Owns the media types, `sha256` of bytes, `Pushed` (a manifest as pushed: media type, exact bytes, digest)
and `ImagePusher`: per platform a real image (a gzip'd tar layer, its config, a manifest), either as a
plain manifest (OCI or Docker schema 2) or, like buildx, as a per-arch index holding the image and its
in-toto attestation manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

import requests

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_LAYER_TYPES = {
    OCI_MANIFEST: "application/vnd.oci.image.layer.v1.tar+gzip",
    DOCKER_MANIFEST: "application/vnd.docker.image.rootfs.diff.tar.gzip",
}
_CONFIG_TYPES = {
    OCI_MANIFEST: "application/vnd.oci.image.config.v1+json",
    DOCKER_MANIFEST: "application/vnd.docker.container.image.v1+json",
}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(seed: str) -> tuple[bytes, bytes]:
    """A gzip'd tar with one file, and the uncompressed tar (its diff_id is the tar's digest)."""
    raw = io.BytesIO()
    content = f"built from {seed}\n".encode()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("app/build.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), tar_bytes


@dataclass(frozen=True)
class Pushed:
    """A manifest as pushed: its media type, exact bytes and digest."""

    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256(self.data)


class ImagePusher:
    """Pushes blobs and manifests with plain HTTP requests (no code under test involved)."""

    def __init__(self, host: str) -> None:
        self.base = f"http://{host}"
        self.session = requests.Session()
        self.session.trust_env = False

    def blob(self, repository: str, data: bytes) -> str:
        digest = sha256(data)
        if self.session.head(f"{self.base}/v2/{repository}/blobs/{digest}").status_code == 200:
            return digest
        started = self.session.post(f"{self.base}/v2/{repository}/blobs/uploads/")
        started.raise_for_status()
        location = started.headers["Location"]
        url = location if location.startswith("http") else self.base + location
        done = self.session.put(
            url, params={"digest": digest}, data=data, headers={"Content-Type": "application/octet-stream"}
        )
        done.raise_for_status()
        return digest

    def manifest(self, repository: str, reference: str, pushed: Pushed) -> Pushed:
        response = self.session.put(
            f"{self.base}/v2/{repository}/manifests/{reference}",
            data=pushed.data,
            headers={"Content-Type": pushed.media_type},
        )
        if response.status_code != 201:
            raise RuntimeError(f"PUT {repository}:{reference} -> {response.status_code} {response.text}")
        return pushed

    def image(
        self, repository: str, arch: str, seed: str, *, media_type: str = OCI_MANIFEST, config_arch: str | None = None
    ) -> Pushed:
        """Push the blobs of a real minimal linux image and return its (not yet tagged) manifest."""
        layer, tar_bytes = _layer(seed)
        config = json.dumps(
            {
                "architecture": config_arch or arch,
                "os": "linux",
                "config": {"Cmd": ["/app/run"]},
                "rootfs": {"type": "layers", "diff_ids": [sha256(tar_bytes)]},
            },
            separators=(",", ":"),
        ).encode()
        document = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": _CONFIG_TYPES[media_type],
                "digest": self.blob(repository, config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": _LAYER_TYPES[media_type], "digest": self.blob(repository, layer), "size": len(layer)}
            ],
        }
        return Pushed(media_type, json.dumps(document, indent=2).encode())

    def buildx_index(self, repository: str, arch: str, seed: str, *, config_arch: str | None = None) -> Pushed:
        """Like a buildx push with provenance: an index of the image and its attestation manifest.

        `config_arch` makes the image's config say another architecture than the index entry does.
        """
        image = self.image(repository, arch, seed, config_arch=config_arch)
        self.manifest(repository, image.digest, image)
        statement = json.dumps(
            {"_type": "https://in-toto.io/Statement/v0.1", "subject": [{"digest": {"sha256": image.digest[7:]}}]}
        ).encode()
        config = b'{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}'
        attestation = Pushed(
            OCI_MANIFEST,
            json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": _CONFIG_TYPES[OCI_MANIFEST],
                        "digest": self.blob(repository, config),
                        "size": len(config),
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.in-toto+json",
                            "digest": self.blob(repository, statement),
                            "size": len(statement),
                            "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
                        }
                    ],
                }
            ).encode(),
        )
        self.manifest(repository, attestation.digest, attestation)
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": image.digest,
                    "size": len(image.data),
                    "platform": {"architecture": arch, "os": "linux"},
                },
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": attestation.digest,
                    "size": len(attestation.data),
                    "annotations": {
                        "vnd.docker.reference.digest": image.digest,
                        "vnd.docker.reference.type": "attestation-manifest",
                    },
                    "platform": {"architecture": "unknown", "os": "unknown"},
                },
            ],
        }
        return Pushed(OCI_INDEX, json.dumps(index, indent=2).encode())

    def platform_image(
        self, repository: str, tag: str, arch: str, *, shape: str = "oci", config_arch: str | None = None
    ) -> Pushed:
        """Push one platform image of a build under `tag`: shape `oci`, `docker` or `buildx`."""
        if shape == "buildx":
            pushed = self.buildx_index(repository, arch, tag, config_arch=config_arch)
        else:
            media_type = DOCKER_MANIFEST if shape == "docker" else OCI_MANIFEST
            pushed = self.image(repository, arch, tag, media_type=media_type, config_arch=config_arch)
        return self.manifest(repository, tag, pushed)
