"""The staging record's pure rules: its format, reading it back, which record decides, and the build stem."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.calver import check_build_stem, make_build_tag, parse_build_tag
from pipelines.core.digests import sha256_digest
from pipelines.core.errors import Corrupt, InputError, RuleRefused
from pipelines.images.registry.manifests import OCI_INDEX, Descriptor, Manifest
from pipelines.staging.record import (
    RECORD_TYPE,
    Outcome,
    StagingRecord,
    newest_first,
    read_record,
    record_manifest,
    require_passed,
)

INDEX = Descriptor(OCI_INDEX, sha256_digest(b"index"), 5)
T0 = datetime(2025, 11, 20, 10, 0, tzinfo=UTC)


def manifest(outcome: Outcome = Outcome.PASSED, at: datetime = T0, index: Descriptor = INDEX) -> Manifest:
    body = Descriptor(RECORD_TYPE, sha256_digest(b"{}"), 2)
    return record_manifest(
        project="percolate", build="stem", index=index, outcome=outcome, at=at, run_url=None, layers=[body]
    )


def record(outcome: Outcome, minutes: int) -> StagingRecord:
    return read_record(manifest(outcome, T0 + timedelta(minutes=minutes)), INDEX.digest)


def test_a_record_reads_back_from_its_own_manifest():
    written = manifest(Outcome.FAILED)

    found = read_record(written, INDEX.digest)

    assert (found.outcome, found.recorded_at, found.digest, found.build) == (Outcome.FAILED, T0, written.digest, "stem")
    document = json.loads(written.data)
    assert document["artifactType"] == RECORD_TYPE and document["subject"]["digest"] == INDEX.digest
    assert document["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"


def test_a_record_of_another_subject_is_corrupt():
    other = Descriptor(OCI_INDEX, sha256_digest(b"other"), 5)

    with pytest.raises(Corrupt, match="its subject is"):
        read_record(manifest(index=other), INDEX.digest)


def test_the_newest_record_decides_and_a_failure_wins_a_tie():
    passed_then_failed = [record(Outcome.PASSED, 0), record(Outcome.FAILED, 5)]
    tie = [record(Outcome.PASSED, 5), record(Outcome.FAILED, 5)]

    assert newest_first(passed_then_failed)[0].outcome is Outcome.FAILED
    assert newest_first(tie)[0].outcome is Outcome.FAILED
    assert require_passed([record(Outcome.FAILED, 0), record(Outcome.PASSED, 5)], "percolate", "stem").passed


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([], "has no staging record"),
        ([record(Outcome.PASSED, 0), record(Outcome.FAILED, 1)], "says failed"),
    ],
)
def test_release_is_refused_without_a_newest_pass(records, message):
    with pytest.raises(RuleRefused, match=message):
        require_passed(records, "percolate", "stem")


def test_the_verified_record_must_be_the_newest():
    older, newer = record(Outcome.PASSED, 0), record(Outcome.PASSED, 1)

    with pytest.raises(RuleRefused, match="not the verified"):
        require_passed([older, newer], "percolate", "stem", expected=older.digest)
    assert require_passed([older, newer], "percolate", "stem", expected=newer.digest) == newer


@given(
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)),
    build=st.integers(min_value=1, max_value=10**6),
    sha=st.text("0123456789abcdef", min_size=7, max_size=7),
    arch=st.sampled_from(["amd64", "arm64", "s390x"]),
)
def test_every_build_tag_without_its_arch_is_a_stem(at, build, sha, arch):
    tag = make_build_tag(version="1.2.3", sha=sha, arch=arch, build=build, at=at).tag

    assert check_build_stem(tag.removesuffix(f"-{arch}")) == tag.removesuffix(f"-{arch}")
    with pytest.raises(InputError):
        check_build_stem(tag)


@given(st.text(max_size=60))
def test_text_is_a_stem_only_in_the_calver_form(text):
    try:
        check_build_stem(text)
    except InputError:
        return
    assert parse_build_tag(f"{text}-amd64").tag == f"{text}-amd64"  # a stem is a build tag without its arch
