"""Staging records in the registry: write one as a referrer of a build index, and find those of a build.

A record cannot be lost, whatever other writers do at the same time: each is stored under a tag
of its own (`record_tag`: the subject's referrers tag, `.staging.`, the record's digest), which
no other writer ever writes, and a write succeeds only once that tag is read back holding the
record. Readers take every such tag from the repository's tag list.

The referrers listing is a convenience for other tools (`oras discover`, `cosign tree`): a
registry with the OCI 1.1 referrers API indexes a record by its `subject` itself (it says so
with an `OCI-Subject` header); on others, such as Debian's docker-registry (distribution 2.8),
the writer appends it to the referrers tag schema's index at `sha256-<hex>` of the subject.
That update is a read-modify-write the registry cannot lock, so two writers at once can drop
each other's entry; readers therefore never depend on it, and a dropped entry costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from pipelines.core.errors import CheckFailed, Corrupt, NotFound, RuleRefused, Unavailable
from pipelines.edges.retry import Deadline, Retrier, Retry, RetryPolicy
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.manifests import EMPTY_JSON, Descriptor, Manifest, referrers_tag, with_referrer
from pipelines.staging.record import (
    RECORD_TYPE,
    TITLE,
    Outcome,
    StagingRecord,
    is_record,
    newest_first,
    read_record,
    record_body,
    record_manifest,
    record_tag,
    record_tags,
    report_media_type,
    require_passed,
    timestamp,
)

TAG_SCHEMA_ATTEMPTS = 5  # each reads the tag, and writes it when the record is not listed
TAG_SCHEMA_SECONDS = 30.0
MOST_RECORDS = 100  # a build has a handful; more is a flood, refused rather than read in part


@dataclass(frozen=True)
class Report:
    name: str
    data: bytes


def build_index_of(client: RegistryClient, repository: str, build: str) -> Manifest:
    """The build index at `build`'s stem; NotFound naming the fix when the build has none."""
    try:
        index = client.get_manifest(repository, build)
    except NotFound:
        raise NotFound(
            f"build {build} has no build index in {client.location.host}/{repository}",
            hint="the RC build writes it with `python -m pipelines build-index` once every platform is pushed; "
            "staging runs and records only a build index",
        ) from None
    return index


def write_record(
    client: RegistryClient,
    repository: str,
    *,
    project: str,
    build: str,
    outcome: Outcome,
    at: datetime,
    run_url: str | None,
    report: Report | None,
    say: Callable[[str], None] = lambda message: None,
) -> StagingRecord:
    """Push the record of `build` (blobs first, then the manifest by digest), and list it as a referrer."""
    index = build_index_of(client, repository, build)
    body = record_body(project, build, index.digest, outcome, at, run_url)
    client.put_blob(repository, EMPTY_JSON)
    layers = [Descriptor(RECORD_TYPE, client.put_blob(repository, body), len(body))]
    if report is not None:
        say(f"uploading the test report {report.name} ({len(report.data)} bytes)")
        digest = client.put_blob(repository, report.data)
        layers.append(
            Descriptor(report_media_type(report.name), digest, len(report.data), annotations=((TITLE, report.name),))
        )
    manifest = record_manifest(
        project=project, build=build, index=index.descriptor(), outcome=outcome, at=at, run_url=run_url, layers=layers
    )
    own = record_tag(index.digest, manifest.digest)
    stored = client.put_manifest(repository, own, manifest)
    found = client.head_manifest(repository, own)
    if found != manifest.digest:
        raise Corrupt(
            f"the record's own tag {own} holds {found or 'nothing'} right after it was written with {manifest.digest}",
            hint="only this command writes that tag; check what else writes to the repository, then record again",
        )
    say(f"stored the record {manifest.digest} under its own tag {own}")
    if stored.subject is not None:
        say(f"the registry indexes referrers itself (OCI-Subject {stored.subject})")
    else:
        _list_in_tag_schema(client, repository, index.digest, manifest.referrer(), say)
    return read_record(manifest, index.digest)


def _list_in_tag_schema(
    client: RegistryClient, repository: str, subject: str, referrer: Descriptor, say: Callable[[str], None]
) -> None:
    """Best effort: list the record in the referrers tag for other tools. Readers find it by its own tag."""
    tag = referrers_tag(subject)

    def listed() -> CheckFailed | Retry | None:
        """None once the tag lists the record; a failed read or write ends the tries, as it is."""
        try:
            current = _tag_schema_index(client, repository, subject)
            if current is not None and referrer.digest in {child.digest for child in current.children()}:
                return None
            say(f"listing the record in the referrers tag {tag}")
            client.put_manifest(repository, tag, with_referrer(current, referrer))
        except CheckFailed as error:
            return error
        return Retry("another writer may have replaced it")  # the next try reads it back

    # The one retry loop: a few tries, jittered so that writers racing for the tag fall out of step.
    policy = RetryPolicy(max_time=TAG_SCHEMA_SECONDS, max_attempts=TAG_SCHEMA_ATTEMPTS, base_delay=0.05, max_delay=0.5)
    try:
        failed = Retrier(policy, Deadline(TAG_SCHEMA_SECONDS)).run(listed, f"the referrers tag {tag}", hint="")
    except Unavailable:
        say(f"note: other writers kept replacing the referrers tag {tag}; the record's own tag lists it")
        return
    if failed is not None:
        say(f"note: the referrers tag {tag} was not updated ({failed.message}); the record's own tag lists it")


def _tag_schema_index(client: RegistryClient, repository: str, subject: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, referrers_tag(subject))
    except NotFound:
        return None


def find_records(
    client: RegistryClient, repository: str, subject: str, tags: Iterable[str]
) -> tuple[StagingRecord, ...]:
    """Every staging record of the build index `subject`, each read from its own manifest.

    `tags` is the repository's tag list: every record's own tag is in it. Records that only a
    referrers listing names (written before records had tags of their own) are read too.
    """
    own = record_tags(tags, subject)
    listing = client.get_referrers(repository, subject)
    if listing is None:
        listing = _tag_schema_index(client, repository, subject)
    listed = list(dict.fromkeys(c.digest for c in listing.children() if is_record(c))) if listing else []
    if max(len(own), len(listed)) > MOST_RECORDS:
        raise Corrupt(
            f"build index {subject} has {max(len(own), len(listed))} staging records, more than the "
            f"{MOST_RECORDS} a build can have: someone flooded {repository} with records",
            hint="find out who pushes them; a release needs a readable record history",
        )
    records: dict[str, StagingRecord] = {}
    for tag in own:
        manifest = client.get_manifest(repository, tag)
        if record_tag(subject, manifest.digest) != tag:
            raise Corrupt(
                f"the record tag {tag} of {repository} holds {manifest.digest}, which is not the record it names",
                hint="a record tag was overwritten; find out who did it, delete the tag and record staging again",
            )
        records[manifest.digest] = read_record(manifest, subject)
    for digest in listed:
        if digest not in records:
            records[digest] = read_record(client.get_manifest(repository, digest), subject)
    return tuple(records.values())


def require_staging(
    client: RegistryClient,
    repository: str,
    project: str,
    build: str,
    build_index: Manifest | None,
    tags: Iterable[str],
    *,
    expected: str | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[StagingRecord, ...]:
    """The records of `build`, newest first, when the newest passed (and is `expected`); refuse otherwise."""
    if build_index is None:
        raise RuleRefused(
            f"build {build} of {project} has no build index, so it never ran in staging",
            hint="release a build made since staging exists: push a new RC tag; its build writes the index, "
            "deploys it to staging and records the integration tests",
        )
    records = newest_first(find_records(client, repository, build_index.digest, tags))
    newest = require_passed(records, project, build, expected=expected)
    say(f"staging passed for build {build}: record {newest.digest} at {timestamp(newest.recorded_at)}")
    return records
