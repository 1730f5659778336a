"""The staging record of a wheel project's RC: did `X.Y.ZrcN`, installed from TestPyPI, pass its integration tests?

percolate-rocks has no image, so its record cannot be an OCI artifact about a build index.
It is a small JSON file attached to the RC's GitHub pre-release (`staging-record.json`),
uploaded by the RC build's staging job with its GITHUB_TOKEN once the clean runners have
installed `percolate-rocks==X.Y.ZrcN` from TestPyPI on every wheel platform and run the
integration tests. It names the exact files TestPyPI served (name and sha256), so a record
speaks only of those bytes; `wheels find-rc --require-staging` releases an RC only when its
record says passed and names exactly the files find-rc downloaded.

Who wrote the record is not this module's question: any workflow run of the repository uploads
as `github-actions[bot]`, so the record counts only once its Sigstore signature verified
(`pipelines.staging.wheel_signature`). The uploader is still checked here, as a second look
that refuses a record a person attached by hand.

This module is the record's shape and the rule (pure); `pipelines.edges.release_assets` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.core.errors import Corrupt, RuleRefused
from pipelines.core.json_text import load_json

RECORD_ASSET = "staging-record.json"
KIND = "wheel-staging-record"
RESULTS = ("passed", "failed")
WORKFLOW_UPLOADER = "github-actions[bot]"  # what GitHub calls an upload made with a workflow's GITHUB_TOKEN
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class WheelStagingRecord:
    project: str
    version: str  # the PEP 440 RC version, e.g. 0.2.0rc1
    result: str
    recorded_at: str
    run_url: str | None
    index: str
    files: tuple[tuple[str, str], ...]  # (file name, sha256 hex), sorted

    @property
    def passed(self) -> bool:
        return self.result == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "project": self.project,
            "version": self.version,
            "result": self.result,
            "recorded_at": self.recorded_at,
            "run_url": self.run_url,
            "index": self.index,
            "files": dict(self.files),
        }


def make_record(
    project: str,
    version: str,
    result: str,
    files: Mapping[str, str],
    *,
    index: str,
    run_url: str | None,
    now: datetime,
) -> WheelStagingRecord:
    return WheelStagingRecord(
        project, version, result, now.strftime("%Y-%m-%dT%H:%M:%SZ"), run_url, index, tuple(sorted(files.items()))
    )


def _corrupt(where: str, problem: str) -> Corrupt:
    return Corrupt(
        f"{where}: {problem}",
        hint="the record is written by the RC build's staging job; re-run that job to write it again",
    )


def _text(document: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    value = document.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise _corrupt(where, f"{key} is not a non-empty string")
    return value


def parse_record(data: bytes, where: str) -> WheelStagingRecord:
    """The record in `data`, or Corrupt saying what is wrong with it."""
    try:
        document = load_json(data)
    except ValueError as error:
        raise _corrupt(where, f"not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise _corrupt(where, f"not a {KIND} document")
    result = _text(document, "result", where)
    if result not in RESULTS:
        raise _corrupt(where, f"result {result!r} is neither passed nor failed")
    files = document.get("files")
    if not isinstance(files, dict) or not files:
        raise _corrupt(where, "files is not an object of file names and sha256 digests")
    for name, digest in files.items():
        if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
            raise _corrupt(where, f"the sha256 of {name!r} is not 64 lower-case hex digits")
    return WheelStagingRecord(
        project=str(_text(document, "project", where)),
        version=str(_text(document, "version", where)),
        result=str(result),
        recorded_at=str(_text(document, "recorded_at", where)),
        run_url=_text(document, "run_url", where, optional=True),
        index=str(_text(document, "index", where)),
        files=tuple(sorted(files.items())),
    )


def require_passed(
    record: WheelStagingRecord | None,
    uploader: str | None,
    *,
    tag: str,
    project: str,
    version: str,
    files: Mapping[str, str],
) -> WheelStagingRecord:
    """The record of `tag`, if it allows releasing exactly `files` of `version`; RuleRefused saying why not."""
    rerun = f"re-run the staging jobs of {tag}'s build, or fix what failed and push the next rc tag"
    if record is None:
        raise RuleRefused(
            f"{tag} has no staging record ({RECORD_ASSET} on its GitHub release): its TestPyPI files were "
            "never tested by the staging jobs",
            hint=rerun,
        )
    if uploader != WORKFLOW_UPLOADER:
        raise RuleRefused(
            f"the staging record of {tag} was uploaded by {uploader or 'nobody known'}, not by a workflow "
            f"({WORKFLOW_UPLOADER})",
            hint=f"delete that asset and {rerun}",
        )
    if (record.project, record.version) != (project, version):
        raise RuleRefused(
            f"the staging record of {tag} is about {record.project} {record.version}, not {project} {version}",
            hint=rerun,
        )
    if not record.passed:
        where = f" ({record.run_url})" if record.run_url else ""
        raise RuleRefused(f"{tag} failed staging{where}: its integration tests did not pass", hint=rerun)
    recorded = dict(record.files)
    differ = sorted(name for name in set(recorded) | set(files) if recorded.get(name) != files.get(name))
    if differ:
        raise RuleRefused(
            f"the staging record of {tag} tested other files than the index serves now: {', '.join(differ)}",
            hint=f"the files of an rc never change on the index; find out who replaced them, then {rerun}",
        )
    return record


def record_json(record: WheelStagingRecord) -> str:
    return json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n"
