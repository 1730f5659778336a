"""The OCI and Docker manifest formats promotion reads and writes: media types, digests, descriptors, indexes.

Pure values, bytes in and bytes out. A manifest is kept as the exact bytes the
registry served, because its digest is the sha256 of those bytes: parsing and
re-serialising the JSON would change the digest, and promotion copies manifests
byte for byte. The one manifest promotion creates, the multi-arch image index,
is serialised deterministically so that a re-run produces the same digest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from pipelines.core.digests import is_digest, sha256_digest
from pipelines.core.errors import Corrupt
from pipelines.core.json_text import load_json
from pipelines.core.values import Value

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"  # OCI 1.1: the config of an artifact that needs none
EMPTY_JSON = b"{}"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_MEDIA_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
MANIFEST_MEDIA_TYPES = (*INDEX_MEDIA_TYPES, *IMAGE_MEDIA_TYPES)

# How buildx marks the attestation manifest (provenance, SBOM) that belongs to a platform image.
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"


def bare_media_type(content_type: str | None) -> str | None:
    """`application/json; charset=utf-8` -> `application/json`; None stays None."""
    if content_type is None:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


class Platform(Value):
    os: str
    architecture: str
    variant: str | None = None

    @property
    def is_unknown(self) -> bool:
        return self.os == "unknown" and self.architecture == "unknown"

    def to_json(self) -> dict[str, str]:
        fields = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            fields["variant"] = self.variant
        return fields

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


class Descriptor(Value):
    """A pointer to content by media type, digest and size, as indexes and manifests list them."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    artifact_type: str | None = None

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)

    @property
    def is_attestation(self) -> bool:
        return self.annotation(REFERENCE_TYPE) == ATTESTATION_MANIFEST

    def to_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            fields["artifactType"] = self.artifact_type
        if self.annotations:
            fields["annotations"] = dict(self.annotations)
        if self.platform is not None:
            fields["platform"] = self.platform.to_json()
        return fields


def _malformed(where: str, problem: str) -> Corrupt:
    return Corrupt(
        f"{where}: {problem}",
        hint="the registry holds content promote cannot read; inspect it with `skopeo inspect --raw`",
    )


def _object(value: Any, where: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _malformed(where, f"{what} is not a JSON object")
    return value


def _string(fields: dict[str, Any], key: str, where: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value:
        raise _malformed(where, f"field {key!r} is missing or not a string")
    return value


def parse_platform(value: Any, where: str) -> Platform:
    fields = _object(value, where, "platform")
    variant = fields.get("variant")
    return Platform(
        _string(fields, "os", where),
        _string(fields, "architecture", where),
        variant if isinstance(variant, str) and variant else None,
    )


def _annotations(fields: dict[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    annotations = _object(fields.get("annotations") or {}, where, "annotations")
    return tuple(sorted((str(key), str(text)) for key, text in annotations.items()))


def _artifact_type(fields: dict[str, Any]) -> str | None:
    value = fields.get("artifactType")
    return value if isinstance(value, str) and value else None


def parse_descriptor(value: Any, where: str) -> Descriptor:
    fields = _object(value, where, "descriptor")
    digest = _string(fields, "digest", where)
    size = fields.get("size")
    if not is_digest(digest):
        raise _malformed(where, f"digest {digest!r} is not sha256:<64 hex digits>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _malformed(where, f"descriptor {digest} has no valid size")
    return Descriptor(
        media_type=_string(fields, "mediaType", where),
        digest=digest,
        size=size,
        platform=parse_platform(fields["platform"], where) if fields.get("platform") is not None else None,
        annotations=_annotations(fields, where),
        artifact_type=_artifact_type(fields),
    )


class Manifest(Value):
    """A manifest or index as the exact bytes a registry serves, with its media type."""

    media_type: str
    data: bytes

    @cached_property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    @cached_property
    def document(self) -> dict[str, Any]:
        return _object(load_json(self.data), self.digest, "manifest")

    def children(self) -> tuple[Descriptor, ...]:
        """The manifests an index lists, in order."""
        entries = self.document.get("manifests")
        if not isinstance(entries, list):
            raise _malformed(self.digest, "index has no 'manifests' list")
        return tuple(parse_descriptor(entry, self.digest) for entry in entries)

    def config(self) -> Descriptor:
        """The config blob an image manifest points at."""
        return parse_descriptor(self.document.get("config"), self.digest)

    def descriptor(self, platform: Platform | None = None) -> Descriptor:
        return Descriptor(self.media_type, self.digest, self.size, platform)

    def subject(self) -> Descriptor | None:
        """The manifest this one refers to (OCI 1.1 `subject`), if any."""
        value = self.document.get("subject")
        return None if value is None else parse_descriptor(value, self.digest)

    def referrer(self) -> Descriptor:
        """How a referrers index lists this manifest: with its artifact type and annotations."""
        return Descriptor(
            self.media_type,
            self.digest,
            self.size,
            annotations=_annotations(self.document, self.digest),
            artifact_type=_artifact_type(self.document),
        )


def parse_manifest(content_type: str | None, data: bytes, where: str) -> Manifest:
    """Check that `data` is a schema 2 manifest of one of the four media types, and keep its exact bytes.

    The media type is the response's Content-Type, else the document's own `mediaType`;
    when both are there they must agree.
    """
    try:
        document = _object(load_json(data), where, "manifest")
    except (ValueError, UnicodeDecodeError) as error:
        raise _malformed(where, f"manifest is not JSON ({error})") from None
    if document.get("schemaVersion") != 2:
        raise _malformed(where, f"schemaVersion is {document.get('schemaVersion')!r}, not 2")
    declared = document.get("mediaType")
    served = bare_media_type(content_type)
    if served not in MANIFEST_MEDIA_TYPES:
        served = None
    media_type = served or declared
    if media_type not in MANIFEST_MEDIA_TYPES:
        raise _malformed(where, f"media type {media_type!r} is none of {', '.join(MANIFEST_MEDIA_TYPES)}")
    if isinstance(declared, str) and declared != media_type:
        raise _malformed(where, f"served as {media_type} but the document says {declared}")
    return Manifest(media_type, data)


def platform_of_config(data: bytes, where: str) -> Platform:
    """The os/architecture/variant an image config blob declares."""
    try:
        document = load_json(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise _malformed(where, f"image config is not JSON ({error})") from None
    return parse_platform(document, where)


def _serialise(document: dict[str, Any]) -> bytes:
    """Compact and deterministic, so that writing the same thing twice gives the same digest."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode()


def image_index(entries: Iterable[Descriptor]) -> Manifest:
    """A new OCI image index listing `entries` in order."""
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry.to_json() for entry in entries]}
    return Manifest(OCI_INDEX, _serialise(document))


def artifact_manifest(
    artifact_type: str, layers: Iterable[Descriptor], subject: Descriptor, annotations: dict[str, str]
) -> Manifest:
    """An OCI 1.1 artifact: an image manifest with an `artifactType`, the empty config, and a `subject`."""
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": Descriptor(OCI_EMPTY, sha256_digest(EMPTY_JSON), len(EMPTY_JSON)).to_json(),
        "layers": [layer.to_json() for layer in layers],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
        "annotations": dict(sorted(annotations.items())),
    }
    return Manifest(OCI_MANIFEST, _serialise(document))


def with_referrer(index: Manifest | None, referrer: Descriptor) -> Manifest:
    """The referrers tag schema's index with `referrer` appended; other entries are kept exactly as they were
    (other tools, such as cosign, list their own artifacts there too)."""
    entries = [] if index is None else list(index.document.get("manifests") or [])
    kept = [entry for entry in entries if not (isinstance(entry, dict) and entry.get("digest") == referrer.digest)]
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*kept, referrer.to_json()]}
    return Manifest(OCI_INDEX, _serialise(document))


def referrers_tag(digest: str) -> str:
    """The OCI 1.1 referrers tag schema: `sha256:<hex>` -> `sha256-<hex>`."""
    return digest.replace(":", "-", 1)
