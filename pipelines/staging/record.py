"""The staging record: what the integration tests against staging said about one build, and the release rule.

A record is an OCI artifact in the image's repository whose `subject` is the build index
that ran in staging. Its annotations carry the outcome (so a referrers listing shows it),
its first layer the same facts as JSON, an optional second layer the test report. Each
record is also stored under a tag of its own, `sha256-<subject hex>.staging.<record hex>`,
which only its writer ever writes: that tag, not a shared referrers index, is what makes a
record impossible to lose (docs/staging.md). Pure: bytes and values in, values out;
`store.py` reads and writes the registry.

The release rule: a build may be released only when its newest record says passed. Newest
is by the time recorded, and on a tie a failure wins.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pipelines.core.errors import Corrupt, InputError, RuleRefused
from pipelines.images.registry.manifests import Descriptor, Manifest, artifact_manifest, referrers_tag

RECORD_TYPE = "application/vnd.percolate.staging-record.v1+json"
CREATED = "org.opencontainers.image.created"
TITLE = "org.opencontainers.image.title"
RESULT = "dev.percolate.staging.result"
PROJECT = "dev.percolate.staging.project"
BUILD = "dev.percolate.staging.build"
RUN_URL = "dev.percolate.staging.run-url"
REPORT_TYPES = {".xml": "application/xml", ".json": "application/json"}  # anything else is text/plain
RECORD_TAG_MARK = ".staging."
# A tag is at most 128 characters: `sha256-` and the subject's 64 hex digits, the mark, then 32 hex
# digits (128 bits) of the record's own digest, which two different records never share.
RECORD_TAG_HEX = 32


class Outcome(Enum):
    PASSED = "passed"
    FAILED = "failed"


def parse_outcome(text: str) -> Outcome:
    try:
        return Outcome(text)
    except ValueError:
        raise InputError(f"result {text!r} is neither passed nor failed", hint="--result passed|failed") from None


@dataclass(frozen=True)
class StagingRecord:
    project: str
    build: str
    subject: str  # the build index's digest
    outcome: Outcome
    recorded_at: datetime
    run_url: str | None
    digest: str  # the record's own manifest digest: what cosign signs and verifies

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    def to_dict(self, repository: str) -> dict[str, Any]:
        return {
            "kind": "staging-record",
            "project": self.project,
            "build": self.build,
            "subject": self.subject,
            "result": self.outcome.value,
            "recorded_at": timestamp(self.recorded_at),
            "run_url": self.run_url,
            "digest": self.digest,
            "reference": f"{repository}@{self.digest}",
        }


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC to the microsecond, so that records of one build order by time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def report_media_type(name: str) -> str:
    return next((kind for suffix, kind in REPORT_TYPES.items() if name.endswith(suffix)), "text/plain")


def record_body(project: str, build: str, subject: str, outcome: Outcome, at: datetime, run_url: str | None) -> bytes:
    """The record's JSON layer: the facts, readable without the annotations."""
    facts = {
        "project": project,
        "build": build,
        "subject": subject,
        "result": outcome.value,
        "recorded_at": timestamp(at),
        "run_url": run_url,
    }
    return json.dumps(facts, sort_keys=True, indent=2).encode() + b"\n"


def record_manifest(
    *,
    project: str,
    build: str,
    index: Descriptor,
    outcome: Outcome,
    at: datetime,
    run_url: str | None,
    layers: Iterable[Descriptor],
) -> Manifest:
    """The record artifact: its annotations say project, build, outcome and time; `layers` the body and report."""
    annotations = {CREATED: timestamp(at), PROJECT: project, BUILD: build, RESULT: outcome.value}
    if run_url:
        annotations[RUN_URL] = run_url
    return artifact_manifest(RECORD_TYPE, layers, index, annotations)


def record_tag(subject: str, record: str) -> str:
    """The tag of its own under which record `record` (a digest) of build index `subject` is stored."""
    return f"{referrers_tag(subject)}{RECORD_TAG_MARK}{record.removeprefix('sha256:')[:RECORD_TAG_HEX]}"


def record_tags(tags: Iterable[str], subject: str) -> tuple[str, ...]:
    """The tags among `tags` that hold a record of build index `subject`, in order."""
    prefix = referrers_tag(subject) + RECORD_TAG_MARK
    return tuple(sorted(tag for tag in tags if tag.startswith(prefix)))


def check_field(name: str, value: str) -> str:
    """A field a record will carry (a URL, a file name): refused, exit 2, when it holds control characters.

    What a record says is printed by every later `staging show` and release job; a CR or LF in it
    would start a line of its own there, such as a workflow command (`::error::…`).
    """
    bad = sorted({f"U+{ord(c):04X}" for c in value if not c.isprintable()})
    if bad:
        raise InputError(
            f"{name} holds control or other unprintable characters ({', '.join(bad)}); nothing was recorded",
            hint=f"pass {name} as one line of printable text",
        )
    return value


def is_record(referrer: Descriptor) -> bool:
    return referrer.artifact_type == RECORD_TYPE


def read_record(manifest: Manifest, subject: str) -> StagingRecord:
    """A record from its own manifest (never from a listing's copy of its annotations); Corrupt when it is not one."""
    where = f"staging record {manifest.digest}"
    document = manifest.document
    annotations = document.get("annotations")
    found = manifest.subject()
    if document.get("artifactType") != RECORD_TYPE or not isinstance(annotations, dict):
        raise Corrupt(f"{where} is not a staging record", hint="inspect it with `skopeo inspect --raw`")
    if found is None or found.digest != subject:
        raise Corrupt(f"{where} is listed as a referrer of {subject} but its subject is {found and found.digest}")
    try:
        recorded_at = datetime.fromisoformat(str(annotations.get(CREATED)))
        outcome = Outcome(annotations.get(RESULT))
    except ValueError:
        raise Corrupt(f"{where} has no valid {CREATED} or {RESULT} annotation") from None
    if recorded_at.tzinfo is None:
        raise Corrupt(f"{where} records a time without a time zone")
    try:
        recorded_at.astimezone(UTC)
    except OverflowError:
        raise Corrupt(f"{where} records a time out of range: {recorded_at.isoformat()}") from None
    for key in (PROJECT, BUILD, RUN_URL):
        value = annotations.get(key)
        if isinstance(value, str) and not value.isprintable():
            # `staging record` refuses these; whoever pushed this one meant it to be printed by a release job.
            raise Corrupt(
                f"{where}: its {key} holds control characters, which `staging record` never writes",
                hint="someone pushed this record by hand: find out who, delete it, and record staging again",
            )
    run_url = annotations.get(RUN_URL)
    return StagingRecord(
        project=str(annotations.get(PROJECT, "")),
        build=str(annotations.get(BUILD, "")),
        subject=subject,
        outcome=outcome,
        recorded_at=recorded_at,
        run_url=run_url if isinstance(run_url, str) else None,
        digest=manifest.digest,
    )


def newest_first(records: Iterable[StagingRecord]) -> tuple[StagingRecord, ...]:
    """By time recorded, newest first; of two at the same time the failure comes first (it decides)."""
    return tuple(sorted(records, key=lambda r: (r.recorded_at, not r.passed), reverse=True))


def require_passed(
    records: Iterable[StagingRecord], project: str, build: str, *, expected: str | None = None
) -> StagingRecord:
    """The newest record, when it passed (and is `expected`, the digest whose signature was verified); else refuse."""
    ordered = newest_first(records)
    retry = (
        "push a new RC tag (or re-run the RC build's staging job) so that the build runs in staging and its "
        "integration tests pass, then release again"
    )
    if not ordered:
        raise RuleRefused(f"build {build} of {project} has no staging record: it never finished staging", hint=retry)
    newest = ordered[0]
    if not newest.passed:
        when = timestamp(newest.recorded_at)
        run = f" ({newest.run_url})" if newest.run_url else ""
        raise RuleRefused(
            f"the newest staging record of build {build} of {project} says failed, at {when}{run}", hint=retry
        )
    if expected is not None and newest.digest != expected:
        raise RuleRefused(
            f"the newest staging record of build {build} is {newest.digest}, not the verified {expected}: "
            "a record was added after the signature check",
            hint="run the release job again: it verifies the newest record's signature before promoting",
        )
    return newest
