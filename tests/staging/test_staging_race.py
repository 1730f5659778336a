"""Staging records under racing writers, on the real registry: no record is ever lost.

Four writers record staging for one build at once, twenty rounds in a row, each with its own
client and connection (a re-run racing the job, two jobs of a matrix). On top of the real race,
every round ends with the lost update the shared referrers index suffers: a writer that read the
index before the others wrote puts its stale copy back after they returned. The records must
all be found afterwards, and the newest (a failure) must still stop the release.

The failing control is the reader that trusts the referrers index alone (what `find_records`
was before records had tags of their own): on the same registry it loses every round's records
and would let the failed build through.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kit.registry import Fault
from pipelines.core.errors import Corrupt, RuleRefused
from pipelines.images.registry.connect import connect
from pipelines.images.registry.manifests import Manifest, referrers_tag
from pipelines.staging.record import Outcome, require_passed
from pipelines.staging.store import find_records, write_record
from tests.staging.staging_builds import push_staged_build

PROJECT = "percolate"
WRITERS = 4
ROUNDS = 20
START = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)


def _race(area: Any, stem: str, round_number: int) -> list[str]:
    """WRITERS records at once (writer 0's is the round's newest, and failed); their digests."""
    barrier = threading.Barrier(WRITERS)
    digests: list[str | None] = [None] * WRITERS
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            with connect(area.registry(), push=True, max_time=60) as client:
                barrier.wait(timeout=30)
                outcome = Outcome.FAILED if i == 0 else Outcome.PASSED
                at = START + timedelta(minutes=round_number, seconds=9 if i == 0 else i)
                record = write_record(
                    client,
                    area.repository(PROJECT),
                    project=PROJECT,
                    build=stem,
                    outcome=outcome,
                    at=at,
                    run_url=f"https://github.com/o/r/actions/runs/{round_number}{i}",
                    report=None,
                )
                digests[i] = record.digest
        except BaseException as error:  # reported by the test, not lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return [digest for digest in digests if digest is not None]


@pytest.mark.parametrize("reader", ["own tags", "referrers index alone (control)"])
def test_racing_writers_never_lose_a_record(area, reader):
    index = push_staged_build(area, PROJECT, sha="a" * 40, number=21, at="2025-11-20T09:00:00+00:00")
    stem = area.build_tag(
        version="0.2.0", sha="a" * 40, number=21, at="2025-11-20T09:00:00+00:00", arch="amd64"
    ).removesuffix("-amd64")
    repository = area.repository(PROJECT)
    referrers = referrers_tag(index.digest)
    with connect(area.registry(), push=True, max_time=60) as client:
        # A passed record from before the race, listed in the referrers index.
        first = write_record(
            client, repository, project=PROJECT, build=stem, outcome=Outcome.PASSED, at=START, run_url=None, report=None
        )
        written = [first.digest]
        lost_rounds = 0
        for round_number in range(1, ROUNDS + 1):
            stale = client.get_manifest(repository, referrers)  # read before the others write...
            digests = _race(area, stem, round_number)
            assert len(digests) == WRITERS  # every writer returned: it claims its record is findable
            client.put_manifest(repository, referrers, Manifest(stale.media_type, stale.data))  # ...written after
            written += digests

            tags = client.list_tags(repository).tags if reader == "own tags" else ()
            found = {record.digest for record in find_records(client, repository, index.digest, tags)}
            lost_rounds += not set(digests) <= found

        tags = client.list_tags(repository).tags if reader == "own tags" else ()
        records = find_records(client, repository, index.digest, tags)

    lost = set(written) - {record.digest for record in records}
    if reader == "own tags":
        assert lost == set() and lost_rounds == 0
        assert len(records) == 1 + WRITERS * ROUNDS
        with pytest.raises(RuleRefused, match="says failed"):
            require_passed(records, PROJECT, stem)
    else:
        # The control: the shared index alone drops every raced record, and the gate would pass.
        assert lost_rounds == ROUNDS and len(lost) == WRITERS * ROUNDS
        assert require_passed(records, PROJECT, stem).digest == first.digest


def test_a_record_tag_that_holds_another_record_is_corrupt(area):
    """A record tag moved to another manifest (to hide a failure behind a pass) stops the reader."""
    index = push_staged_build(area, PROJECT, sha="b" * 40, number=22, at="2025-11-20T10:00:00+00:00")
    stem = area.build_tag(
        version="0.2.0", sha="b" * 40, number=22, at="2025-11-20T10:00:00+00:00", arch="amd64"
    ).removesuffix("-amd64")
    repository = area.repository(PROJECT)
    with connect(area.registry(), push=True, max_time=60) as client:
        passed, failed = (
            write_record(
                client, repository, project=PROJECT, build=stem, outcome=outcome, at=at, run_url=None, report=None
            )
            for outcome, at in ((Outcome.PASSED, START), (Outcome.FAILED, START + timedelta(minutes=1)))
        )
        tags = client.list_tags(repository).tags
        (failed_tag,) = [tag for tag in tags if failed.digest.removeprefix("sha256:")[:32] in tag]
        client.put_manifest(repository, failed_tag, client.get_manifest(repository, passed.digest))

        with pytest.raises(Corrupt, match="not the record it names"):
            find_records(client, repository, index.digest, client.list_tags(repository).tags)


@pytest.mark.parametrize("replaced", [True, False], ids=["replaced after every write", "control: left alone"])
def test_a_referrers_tag_other_writers_keep_replacing_is_left_after_a_few_tries(area, fault_proxy, replaced):
    """The referrers tag is a convenience: after each of our writes another writer (through the proxy's hook) puts
    back its stale copy. The writer tries a few times, jittered, then says so and relies on the record's own tag."""
    index = push_staged_build(area, PROJECT, sha="c" * 40, number=23, at="2025-11-20T11:00:00+00:00")
    stem = area.build_tag(
        version="0.2.0", sha="c" * 40, number=23, at="2025-11-20T11:00:00+00:00", arch="amd64"
    ).removesuffix("-amd64")
    repository = area.repository(PROJECT)
    referrers = referrers_tag(index.digest)
    proxy = fault_proxy()
    lines: list[str] = []
    with connect(area.registry(), push=True, max_time=60) as direct:
        first = write_record(
            direct, repository, project=PROJECT, build=stem, outcome=Outcome.PASSED, at=START, run_url=None, report=None
        )
        stale = direct.get_manifest(repository, referrers)
        if replaced:

            def put_back() -> None:
                direct.put_manifest(repository, referrers, Manifest(stale.media_type, stale.data))

            proxy.add(Fault("after", method="PUT", path=f"/manifests/{referrers}", times=100, run=put_back))
        with connect(area.registry(proxy.host), push=True, max_time=60) as client:
            record = write_record(
                client,
                repository,
                project=PROJECT,
                build=stem,
                outcome=Outcome.FAILED,
                at=START + timedelta(minutes=1),
                run_url=None,
                report=None,
                say=lines.append,
            )
        found = find_records(direct, repository, index.digest, direct.list_tags(repository).tags)
        listed = {child.digest for child in direct.get_manifest(repository, referrers).children()}

    # The record's own tag starts with the referrers tag's name: count the writes of that tag alone.
    writes = sum(1 for e in proxy.log if e.method == "PUT" and e.path.endswith(f"/manifests/{referrers}"))
    kept_replacing = f"note: other writers kept replacing the referrers tag {referrers}; the record's own tag lists it"
    assert {r.digest for r in found} == {first.digest, record.digest}  # found by its own tag either way
    if replaced:
        assert writes == 5 and lines[-1] == kept_replacing and record.digest not in listed
    else:
        assert writes == 1 and kept_replacing not in lines and record.digest in listed
