"""Build metadata: the record an RC build keeps of what it made (tag, commit, run, files or images).

The record is checked against the build's plan before it is written: every planned
artifact must be there (a wheel for every target and the sdist, or an image for every
platform at its planned CalVer reference), and nothing unplanned may slip in. Pure:
the command reads the plan, hashes the files and writes the JSON.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.digests import is_digest
from pipelines.core.errors import InputError, RuleRefused


@dataclass(frozen=True)
class BuiltFile:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class PushedImage:
    platform: str
    reference: str
    digest: str


def parse_pushed_image(text: str) -> PushedImage:
    """`ARCH=REFERENCE@sha256:…`, as the push step reports it."""
    platform, separator, pushed = text.partition("=")
    reference, at, digest = pushed.rpartition("@")
    if not separator or not at or not platform or not reference or not is_digest(digest):
        raise InputError(f"{text!r} is not ARCH=REFERENCE@sha256:DIGEST", hint="e.g. amd64=ghcr.io/o/p:TAG@sha256:…")
    return PushedImage(platform, reference, digest)


def _check_files(planned: list[Mapping[str, Any]], files: list[BuiltFile]) -> list[str]:
    problems = []
    for artifact in planned:
        if not any(fnmatch.fnmatchcase(f.name, artifact["name"]) for f in files):
            problems.append(
                f"no file for the planned {artifact['kind']} {artifact['platform'] or ''} {artifact['name']}"
            )
    for built in files:
        if not any(fnmatch.fnmatchcase(built.name, artifact["name"]) for artifact in planned):
            problems.append(f"{built.name} is not one of the planned files")
    return problems


def _check_images(planned: list[Mapping[str, Any]], images: list[PushedImage]) -> list[str]:
    expected = {artifact["platform"]: artifact["name"] for artifact in planned}
    pushed = {image.platform: image for image in images}
    problems = [
        f"no image pushed for the planned platform {arch} ({ref})"
        for arch, ref in expected.items()
        if arch not in pushed
    ]
    for image in images:
        if image.platform not in expected:
            problems.append(f"{image.platform} is not a planned platform ({', '.join(expected)})")
        elif image.reference != expected[image.platform]:
            problems.append(
                f"{image.platform} was pushed as {image.reference}, but the plan says {expected[image.platform]}"
            )
    return problems


def build_metadata(
    plan: Mapping[str, Any], *, files: Iterable[BuiltFile] = (), images: Iterable[PushedImage] = (), run_id: str | None
) -> dict[str, Any]:
    """The metadata record of the build `plan` describes; CheckFailed listing what differs from the plan."""
    if plan.get("stage") != "build":
        raise InputError(
            f"the plan is of stage {plan.get('stage')!r}, not build", hint="pass `plan RC_TAG --json` output"
        )
    files, images = sorted(files, key=lambda f: f.name), sorted(images, key=lambda i: i.platform)
    artifacts = plan.get("artifacts", [])
    planned_files = [a for a in artifacts if a["kind"] in ("wheel", "sdist")]
    planned_images = [a for a in artifacts if a["kind"] == "image"]
    problems = _check_files(planned_files, files) if planned_files else []
    problems += _check_images(planned_images, images) if planned_images else []
    if (planned_files and images) or (planned_images and files):
        problems.append(f"{plan['project']} builds {'files' if planned_files else 'images'} only")
    if problems:
        raise RuleRefused(
            f"the build of {plan['tag']} does not match its plan:\n  - " + "\n  - ".join(problems),
            hint="keep the metadata of complete builds only; re-run the failed jobs",
        )
    record: dict[str, Any] = {
        key: plan[key] for key in ("tag", "project", "version", "rc", "package_version", "commit", "run_number")
    }
    record["run_id"] = run_id
    if planned_files:
        record["files"] = [vars(f) for f in files]
    else:
        record["images"] = [vars(i) for i in images]
    return record
