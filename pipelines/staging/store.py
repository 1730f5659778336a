"""Staging records in the registry: write one as a referrer of a build index, and find those of a build.

A registry with the OCI 1.1 referrers API indexes a manifest by its `subject` itself (it says
so with an `OCI-Subject` header when the manifest is pushed). Others, such as Debian's
docker-registry (distribution 2.8), get the referrers tag schema: an index at tag
`sha256-<hex>` of the subject, which the writer updates. That update is a read-modify-write
without a lock the registry could give us, so it is read back, and done again while another
writer's update has dropped ours (staging jobs are serialized by the workflows, so this is rare).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pipelines.core.errors import NotFound, Unavailable
from pipelines.images.manifests import EMPTY_JSON, Descriptor, Manifest, referrers_tag, with_referrer
from pipelines.images.registry.client import RegistryClient
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
    report_media_type,
    require_passed,
    timestamp,
)

TAG_SCHEMA_ATTEMPTS = 5
MOST_RECORDS_READ = 50  # a build has a handful; a flood of referrers is not read one by one


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
    stored = client.put_manifest(repository, manifest.digest, manifest)
    if stored.subject is None:
        _list_in_tag_schema(client, repository, index.digest, manifest.referrer(), say)
    else:
        say(f"the registry indexes referrers itself (OCI-Subject {stored.subject})")
    return read_record(manifest, index.digest)


def _list_in_tag_schema(
    client: RegistryClient, repository: str, subject: str, referrer: Descriptor, say: Callable[[str], None]
) -> None:
    tag = referrers_tag(subject)
    for _attempt in range(TAG_SCHEMA_ATTEMPTS):
        current = _tag_schema_index(client, repository, subject)
        if current is not None and referrer.digest in {child.digest for child in current.children()}:
            return
        say(f"listing the record in the referrers tag {tag}")
        client.put_manifest(repository, tag, with_referrer(current, referrer))
    raise Unavailable(
        f"another writer kept replacing the referrers tag {tag} of {repository}: the record "
        f"{referrer.digest} is stored but not listed",
        hint="run `staging record` again once the other staging jobs have finished (it lists the same record)",
    )


def _tag_schema_index(client: RegistryClient, repository: str, subject: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, referrers_tag(subject))
    except NotFound:
        return None


def find_records(client: RegistryClient, repository: str, subject: str) -> tuple[StagingRecord, ...]:
    """Every staging record of the build index `subject`, each read from its own manifest."""
    listing = client.get_referrers(repository, subject)
    if listing is None:
        listing = _tag_schema_index(client, repository, subject)
    if listing is None:
        return ()
    referrers = [child for child in listing.children() if is_record(child)][-MOST_RECORDS_READ:]
    return tuple(read_record(client.get_manifest(repository, child.digest), subject) for child in referrers)


def require_staging(
    client: RegistryClient,
    repository: str,
    project: str,
    build: str,
    build_index: Manifest | None,
    *,
    expected: str | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[StagingRecord, ...]:
    """The records of `build`, newest first, when the newest passed (and is `expected`); refuse otherwise."""
    if build_index is None:
        raise NotFound(
            f"build {build} of {project} has no build index, so it never ran in staging",
            hint="release a build made since staging exists: push a new RC tag; its build writes the index, "
            "deploys it to staging and records the integration tests",
        )
    records = newest_first(find_records(client, repository, build_index.digest))
    newest = require_passed(records, project, build, expected=expected)
    say(f"staging passed for build {build}: record {newest.digest} at {timestamp(newest.recorded_at)}")
    return records
