"""Test helper: an RC build's own multi-arch index at its CalVer stem, pushed by plain HTTP (no code under test)."""

from __future__ import annotations

import json
from typing import Any

from kit.images import OCI_INDEX, Pushed


def push_build_index(area: Any, project: str, stem: str, platforms: dict[str, Pushed]) -> Pushed:
    """An OCI image index of the build's platform images, tagged `stem`, as `build-index` writes it."""
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": pushed.media_type,
                "digest": pushed.digest,
                "size": len(pushed.data),
                "platform": {"architecture": arch, "os": "linux"},
            }
            for arch, pushed in sorted(platforms.items())
        ],
    }
    return area.pusher.manifest(area.repository(project), stem, Pushed(OCI_INDEX, json.dumps(index).encode()))


def push_staged_build(area: Any, project: str, *, sha: str, number: int, at: str, version: str = "0.2.0") -> Pushed:
    """A complete RC build with its build index; returns the index as pushed."""
    pushed = area.push_build(project, sha=sha, number=number, at=at, version=version)
    stem = area.build_tag(version=version, sha=sha, number=number, at=at, arch="amd64").removesuffix("-amd64")
    return push_build_index(area, project, stem, pushed)
