"""The build index, staging records and `promote --require-staging`, end to end against the real registry.

The CLI runs in a subprocess the way a workflow runs it; skopeo, an independent client,
reads back what it wrote.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.tail_listing import dated_release, hold_the_full_listings_last_page, release_tag_checked

PROJECT = "percolate"
TAG = "percolate-v0.1.0"
AT = "2025-10-25T14:30:00+00:00"


@pytest.fixture
def released(monorepo: Any) -> Any:
    monorepo.tag(TAG)
    return monorepo


def stem_of(area: Any, sha: str, number: int, at: str = AT) -> str:
    return area.build_tag(version="0.1.0", sha=sha, number=number, at=at, arch="amd64").removesuffix("-amd64")


def build_index(cli: Any, area: Any, env: dict[str, str], stem: str, project: str = PROJECT) -> Any:
    return cli("build-index", project, "--build", stem, "--registry", area.registry(), "--json", env=env)


def record(cli: Any, area: Any, env: dict[str, str], stem: str, result: str, *args: str) -> Any:
    arguments = ("staging", "record", PROJECT, "--build", stem, "--result", result, "--registry", area.registry())
    return cli(*arguments, "--json", *args, env=env)


def promote(cli: Any, area: Any, repo: Any, env: dict[str, str], *args: str) -> Any:
    return cli("promote", TAG, "--registry", area.registry(), "--root", str(repo.root), "--json", *args, env=env)


def release_tags(area: Any) -> set[str]:
    return {tag for tag in area.tags(PROJECT) if tag.startswith("0.1.0")}


@pytest.mark.parametrize("shape", ["oci", "buildx"])
def test_build_index_lists_every_platform_image_and_promote_copies_it_byte_for_byte(
    cli, area, released, clean_env, shape
):
    pushed = area.push_build(PROJECT, sha=released.head, number=7, shape=shape)
    stem = stem_of(area, released.head, 7)

    written = build_index(cli, area, clean_env, stem)
    again = build_index(cli, area, clean_env, stem)
    promoted = promote(cli, area, released, clean_env)

    assert written.code == 0, written.stderr
    data = written.json()
    raw = area.raw(PROJECT, stem)
    assert data["written"] is True and again.json()["written"] is False
    assert data["digest"] == area.digest(PROJECT, stem) == again.json()["digest"]
    listed = [entry["digest"] for entry in json.loads(raw)["manifests"]]
    children = [entry["digest"] for p in pushed.values() for entry in json.loads(p.data).get("manifests", [])]
    assert listed == (children if shape == "buildx" else [p.digest for p in pushed.values()])
    assert written.json()["requests"]["by_kind"]["manifest-put"] == 1
    assert "manifest-put" not in again.json()["requests"]["by_kind"]
    # The release index is the build index, byte for byte: what ran in staging is what is released.
    assert promoted.code == 0, promoted.stderr
    assert promoted.json()["from_build_index"] is True
    assert area.raw(PROJECT, "0.1.0") == raw
    assert promoted.json()["index_digest"] == data["digest"]
    assert promoted.json()["requests"]["total"] <= promoted.json()["requests"]["budget"] + 2 * (
        2 if shape == "buildx" else 1
    )


def test_an_incomplete_build_gets_no_index(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=8, arches=("amd64",))
    stem = stem_of(area, released.head, 8)

    result = build_index(cli, area, clean_env, stem)

    assert result.code == 1
    assert f"no image at {stem}-arm64" in result.stderr and "incomplete" in result.stderr
    assert stem not in area.tags(PROJECT)


def test_a_build_index_is_never_moved(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=9)
    stem = stem_of(area, released.head, 9)
    assert build_index(cli, area, clean_env, stem).code == 0
    before = area.digest(PROJECT, stem)
    # The arm64 image is pushed again (another image) after the index was written.
    repository = area.repository(PROJECT)
    area.pusher.manifest(repository, f"{stem}-arm64", area.pusher.image(repository, "arm64", "rebuilt"))

    again = build_index(cli, area, clean_env, stem)
    promoted = promote(cli, area, released, clean_env)

    assert again.code == 1 and "never moves" in again.stderr
    assert area.digest(PROJECT, stem) == before
    # Promote refuses too: the index no longer names what the platform tags hold.
    assert promoted.code == 1 and "does not list the images its platform tags hold" in promoted.stderr
    assert release_tags(area) == set()


def test_a_malformed_stem_is_bad_input(cli, area, clean_env):
    result = build_index(cli, area, clean_env, "2025.10.25.1430-build.7-v0.1.0-abc1234-amd64")

    assert result.code == 2
    assert "not a build's CalVer stem" in result.stderr


def test_a_record_is_listed_in_the_referrers_tag_and_read_back(cli, area, released, clean_env, tmp_path):
    area.push_build(PROJECT, sha=released.head, number=10)
    stem = stem_of(area, released.head, 10)
    index = build_index(cli, area, clean_env, stem).json()["digest"]
    report = tmp_path / "junit.xml"
    report.write_text('<testsuite name="integration" tests="3" failures="0"/>\n')
    env = {**clean_env, "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42"}

    written = record(cli, area, env, stem, "passed", "--report", str(report))
    shown = cli("staging", "show", TAG, "--registry", area.registry(), "--json", env=clean_env)

    assert written.code == 0, written.stderr
    data = written.json()
    assert data["subject"] == index and data["result"] == "passed" and data["build"] == stem
    assert data["run_url"] == "https://github.com/o/r/actions/runs/42"
    assert data["reference"] == f"{area.registry()}/percolate@{data['digest']}"
    referrers = json.loads(area.raw(PROJECT, index.replace(":", "-")))
    (entry,) = referrers["manifests"]
    assert entry["digest"] == data["digest"]
    assert entry["artifactType"] == "application/vnd.percolate.staging-record.v1+json"
    assert entry["annotations"]["dev.percolate.staging.result"] == "passed"
    artifact = json.loads(area.raw(PROJECT, data["digest"]))
    assert artifact["subject"]["digest"] == index
    kept = artifact["layers"][1]
    assert kept["annotations"]["org.opencontainers.image.title"] == "junit.xml"
    assert kept["size"] == report.stat().st_size
    assert shown.code == 0, shown.stderr
    assert shown.json()["passed"] is True and shown.json()["newest"]["digest"] == data["digest"]


def test_a_record_of_a_build_without_index_is_refused(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=11)

    result = record(cli, area, clean_env, stem_of(area, released.head, 11), "passed")

    assert result.code == 1
    assert "has no build index" in result.stderr


def staged_build(cli: Any, area: Any, repo: Any, env: dict[str, str], number: int, *results: str) -> list[str]:
    """Push a build, write its index and record `results` in order; the records' digests."""
    area.push_build(PROJECT, sha=repo.head, number=number)
    stem = stem_of(area, repo.head, number)
    assert build_index(cli, area, env, stem).code == 0
    digests = []
    for result in results:
        written = record(cli, area, env, stem, result)
        assert written.code == 0, written.stderr
        digests.append(written.json()["digest"])
    return digests


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ((), "has no staging record"),
        (("failed",), "says failed"),
        (("passed", "failed"), "says failed"),
    ],
)
def test_promote_refuses_a_build_whose_newest_record_did_not_pass(cli, area, released, clean_env, results, message):
    staged_build(cli, area, released, clean_env, 12, *results)

    refused = promote(cli, area, released, clean_env, "--require-staging")
    shown = cli("staging", "show", TAG, "--registry", area.registry(), "--json", env=clean_env)

    assert refused.code == 1
    assert message in refused.stderr and "push a new RC tag" in refused.stderr
    assert release_tags(area) == set()
    assert shown.code == 1 and shown.json()["passed"] is False


def test_promote_releases_a_build_that_passed_and_checks_the_verified_record(cli, area, released, clean_env):
    failed, passed = staged_build(cli, area, released, clean_env, 13, "failed", "passed")

    other = promote(cli, area, released, clean_env, "--require-staging", "--staging-record", failed)
    accepted = promote(cli, area, released, clean_env, "--require-staging", "--staging-record", passed)

    assert other.code == 1 and "not the verified" in other.stderr
    assert accepted.code == 0, accepted.stderr
    data = accepted.json()
    assert data["staging_record"]["digest"] == passed and data["staging_record"]["result"] == "passed"
    assert data["requests"]["total"] <= data["requests"]["budget"] + 2  # + each platform's config blob
    assert release_tags(area) == {"0.1.0-amd64", "0.1.0-arm64", "0.1.0"}


def test_the_tail_of_a_long_tag_list_holds_the_records_promote_checks(cli, area, monorepo, clean_env, fault_proxy):
    """Promote chooses from the tail of the list (after the release commit's day): the build, its index and its
    staging records' own tags (`sha256-…`) are all in it."""
    dated_release(monorepo)  # TAG on a commit made 2025-10-25T12:00Z
    for number in range(1, 4):  # older builds a day apart, the last the day before the boundary: pages of their own
        area.push_build(PROJECT, sha=monorepo.head, number=number, version="0.0.9", at=f"2025-10-2{1 + number}T10:00Z")
    (passed,) = staged_build(cli, area, monorepo, clean_env, 14, "passed")
    proxy = fault_proxy(page_size=4)
    hold_the_full_listings_last_page(proxy, area, until=release_tag_checked(proxy))

    accepted = cli(
        "promote", TAG, "--registry", area.registry(proxy.host), "--root", str(monorepo.root), "--json",
        "--require-staging", "--staging-record", passed, env=clean_env,
    )  # fmt: skip

    assert accepted.code == 0, accepted.stderr
    assert "tags after 2025.10.24.1200" in accepted.stderr
    assert accepted.json()["staging_record"]["digest"] == passed and accepted.json()["from_build_index"] is True
    assert release_tags(area) == {"0.1.0-amd64", "0.1.0-arm64", "0.1.0"}
    paths = [(entry.method, entry.path) for entry in proxy.log]
    checked = paths.index(("HEAD", f"/v2/{area.repository(PROJECT)}/manifests/0.1.0-amd64"))
    assert checked < max(i for i, (_, path) in enumerate(paths) if path.endswith("/tags/list"))  # no wait for it


def test_a_build_without_index_cannot_pass_the_staging_requirement(cli, area, released, clean_env):
    area.push_build(PROJECT, sha=released.head, number=14)

    refused = promote(cli, area, released, clean_env, "--require-staging")
    plain = promote(cli, area, released, clean_env, "--dry-run")

    assert refused.code == 1 and "never ran in staging" in refused.stderr
    assert release_tags(area) == set()
    assert plain.code == 0 and plain.json()["from_build_index"] is False


def test_staging_record_needs_the_requirement(cli, area, released, clean_env):
    result = promote(cli, area, released, clean_env, "--staging-record", "sha256:" + "0" * 64)

    assert result.code == 2 and "--require-staging" in result.stderr


def test_a_registry_with_the_referrers_api_indexes_records_itself(cli, area, released, clean_env, fault_proxy):
    proxy = fault_proxy(referrers_api=True)
    area.push_build(PROJECT, sha=released.head, number=15)
    stem = stem_of(area, released.head, 15)
    assert build_index(cli, area, clean_env, stem).code == 0
    arguments = ("staging", "record", PROJECT, "--build", stem, "--result", "passed", "--registry")

    written = cli(*arguments, area.registry(proxy.host), "--json", env=clean_env)
    shown = cli("staging", "show", TAG, "--registry", area.registry(proxy.host), "--json", env=clean_env)

    assert written.code == 0, written.stderr
    subject = written.json()["subject"]
    assert [entry["digest"] for entry in proxy.referrers[subject]] == [written.json()["digest"]]
    assert subject.replace(":", "-") not in area.tags(PROJECT)  # no referrers tag where the API does the work
    assert shown.code == 0 and shown.json()["newest"]["digest"] == written.json()["digest"]
    assert proxy.count("GET", f"/referrers/{subject}") == 1


def test_an_upload_sent_to_another_host_is_refused_and_nothing_listed(cli, area, released, clean_env, fault_proxy):
    proxy = fault_proxy(rewrite_location=False)  # the upload session names the registry behind the proxy
    area.push_build(PROJECT, sha=released.head, number=16)
    stem = stem_of(area, released.head, 16)
    index = build_index(cli, area, clean_env, stem).json()["digest"]

    refused = record(cli, area, clean_env, stem, "passed", "--registry", area.registry(proxy.host))

    assert refused.code == 1 and "to another host" in refused.stderr
    assert index.replace(":", "-") not in area.tags(PROJECT)
    assert proxy.count("PUT") == 0


PLANTED = "https://github.com/o/r/actions/runs/1\r\n::error title=staging::all good\x1b[2J ##[warning]x"


def test_a_record_holding_a_workflow_command_is_refused_and_printed_neutralised(cli, area, released, clean_env):
    """Anyone who can push to the package can write a record by hand: one holding control characters is not
    ours, so it stops the release (a job would print its run URL with `jq -r`), and nothing of it speaks."""
    from datetime import UTC, datetime

    from pipelines.core.errors import Corrupt
    from pipelines.images.registry.connect import connect
    from pipelines.staging.record import Outcome
    from pipelines.staging.store import write_record

    area.push_build(PROJECT, sha=released.head, number=17)
    stem = stem_of(area, released.head, 17)
    assert build_index(cli, area, clean_env, stem).code == 0
    with connect(area.registry(), push=True, max_time=60) as client, pytest.raises(Corrupt):
        write_record(  # the library, as a hand-made push: stored, then refused when read back
            client,
            area.repository(PROJECT),
            project=PROJECT,
            build=stem,
            outcome=Outcome.PASSED,
            at=datetime.now(UTC),
            run_url=PLANTED,
            report=None,
        )

    shown = cli("staging", "show", TAG, "--registry", area.registry(), env=clean_env)
    as_json = cli("staging", "show", TAG, "--registry", area.registry(), "--json", env=clean_env)
    refused = promote(cli, area, released, clean_env, "--require-staging")

    assert shown.code == 1 and "holds control characters" in shown.stderr
    assert as_json.code == 1 and as_json.json()["cause"] == "corrupt"
    assert refused.code == 1 and release_tags(area) == set()
    for output in (shown.stdout, shown.stderr, as_json.stdout, refused.stderr):
        assert not [line for line in output.split("\n") if line.lstrip().startswith("::") or "##[" in line]
        assert "\x1b" not in output and "\r" not in output


@pytest.mark.parametrize(
    ("option", "value"),
    [("--run-url", "https://github.com/o/r/actions/runs/1\r\n::error::x"), ("--run-url", "https://x/\x1b[2J")],
)
def test_a_record_field_with_control_characters_is_refused_before_any_write(
    cli, area, released, clean_env, option, value
):
    area.push_build(PROJECT, sha=released.head, number=18)
    stem = stem_of(area, released.head, 18)
    assert build_index(cli, area, clean_env, stem).code == 0
    before = area.tags(PROJECT)

    refused = record(cli, area, clean_env, stem, "passed", option, value)

    assert refused.code == 2 and "control or other unprintable characters" in refused.stderr
    assert "nothing was recorded" in refused.stderr
    assert area.tags(PROJECT) == before


def test_a_report_named_with_a_control_character_is_refused(cli, area, released, clean_env, tmp_path):
    area.push_build(PROJECT, sha=released.head, number=19)
    stem = stem_of(area, released.head, 19)
    assert build_index(cli, area, clean_env, stem).code == 0
    report = tmp_path / "junit\n::error::x.xml"
    report.write_text("<testsuite/>")
    before = area.tags(PROJECT)

    refused = record(cli, area, clean_env, stem, "passed", "--report", str(report))

    assert refused.code == 2 and "the name of --report" in refused.stderr
    assert area.tags(PROJECT) == before


@pytest.mark.parametrize("size", [8 << 20, (8 << 20) + 1], ids=["at the limit", "a byte over"])
def test_a_report_over_8_mib_is_refused_unread_and_nothing_is_recorded(cli, area, released, clean_env, tmp_path, size):
    area.push_build(PROJECT, sha=released.head, number=20)
    stem = stem_of(area, released.head, 20)
    assert build_index(cli, area, clean_env, stem).code == 0
    report = tmp_path / "junit.xml"
    with report.open("wb") as handle:
        handle.truncate(size)
    before = area.tags(PROJECT)

    result = record(cli, area, clean_env, stem, "passed", "--report", str(report))

    if size > 8 << 20:
        assert result.code == 2 and "--report" in result.stderr and "larger than 8388608 bytes" in result.stderr
        assert area.tags(PROJECT) == before
    else:
        assert result.code == 0, result.stderr
