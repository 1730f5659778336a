"""The pure rules of promotion: builds, choosing, the commit check, the plan; and the OCI format values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.calver import make_build_tag, order_build_tags
from pipelines.core.errors import CheckFailed
from pipelines.core.versions import ProjectVersion
from pipelines.images.registry.manifests import (
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    Platform,
    image_index,
    parse_manifest,
    platform_of_config,
    sha256_digest,
)
from pipelines.images.rules import (
    choose_build,
    group_builds,
    plan_promotion,
    request_budget,
    source_from_image,
    source_from_index,
)

V010 = ProjectVersion(0, 1, 0)
PLATFORMS = ("amd64", "arm64")
START = datetime(2025, 10, 1, tzinfo=UTC)


def tag(*, minutes: int = 0, build: int = 1, sha: str = "abc1234", arch: str = "amd64", version: str = "0.1.0") -> str:
    return make_build_tag(version=version, sha=sha, arch=arch, build=build, at=START + timedelta(minutes=minutes)).tag


def test_builds_order_by_time_then_build_number_as_numbers():
    tags = [tag(build=9, arch=a) for a in PLATFORMS] + [tag(build=10, arch=a) for a in PLATFORMS]
    assert [b.number for b in group_builds(order_build_tags(tags).tags)] == [10, 9]
    assert choose_build(tags, V010, PLATFORMS).build.number == 10


def test_newer_incomplete_builds_are_skipped_and_reported():
    tags = [tag(minutes=0, arch=a) for a in PLATFORMS] + [tag(minutes=5, build=2, arch="amd64"), "latest", "0.0.9"]
    choice = choose_build(tags, V010, PLATFORMS)
    assert choice.build.number == 1 and choice.build.arches == PLATFORMS
    assert [b.number for b in choice.skipped] == [2]
    assert choice.skipped[0].missing(PLATFORMS) == ("arm64",)


def test_other_versions_are_never_chosen_and_are_named_when_none_fits():
    tags = [tag(version="0.0.9", build=4, arch=a) for a in PLATFORMS]
    with pytest.raises(CheckFailed, match=r"no RC build of 0\.1\.0 .*2025\.10\.01\.0000-build\.4-v0\.0\.9-abc1234"):
        choose_build(tags, V010, PLATFORMS)
    with pytest.raises(CheckFailed, match="has no CalVer build tags"):
        choose_build(["latest"], V010, PLATFORMS)


def test_same_time_and_number_with_another_commit_is_another_build():
    tags = [tag(sha="aaaaaaa", arch="amd64"), tag(sha="bbbbbbb", arch="arm64")]
    with pytest.raises(CheckFailed, match="no complete RC build"):
        choose_build(tags, V010, PLATFORMS)


_build = st.tuples(
    st.integers(0, 50),  # minutes after START
    st.integers(1, 30),  # build number
    st.sampled_from(["abc1234", "def5678"]),
    st.sampled_from(["0.1.0", "0.2.0"]),
    st.sets(st.sampled_from(("amd64", "arm64", "s390x")), min_size=1),
)


@given(st.lists(_build, max_size=12), st.randoms())
def test_the_choice_is_the_newest_complete_build_whatever_the_tag_order(builds, random):
    tags = sorted({tag(minutes=m, build=n, sha=s, version=v, arch=a) for m, n, s, v, arches in builds for a in arches})
    complete: dict[tuple, set[str]] = {}
    for m, n, s, v, arches in builds:
        if v == "0.1.0":
            complete.setdefault((m, n, s), set()).update(arches)
    candidates = sorted(key for key, arches in complete.items() if set(PLATFORMS) <= arches)
    shuffled = list(tags)
    random.shuffle(shuffled)
    if not candidates:
        with pytest.raises(CheckFailed):
            choose_build(shuffled, V010, PLATFORMS)
        return
    choice = choose_build(shuffled, V010, PLATFORMS)
    chosen = (int((choice.build.built_at - START).total_seconds() // 60), choice.build.number, choice.build.sha)
    newest = max(candidates, key=lambda key: (key[0], key[1], key[2]))
    assert chosen == newest
    assert choice == choose_build(tags, V010, PLATFORMS)
    for skipped in choice.skipped:
        assert skipped.missing(PLATFORMS) and (skipped.built_at, skipped.number) >= (
            choice.build.built_at,
            choice.build.number,
        )


def _build_of(sha: str = "abc1234"):
    return choose_build([tag(sha=sha, arch=a) for a in PLATFORMS], V010, PLATFORMS).build


def _image(arch: str, seed: str = "") -> Manifest:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256_digest(seed.encode()),
            "size": 1,
        },
        "layers": [],
        "annotations": {"arch": arch},
    }
    return Manifest(OCI_MANIFEST, json.dumps(document).encode())


def _sources(seed: str = ""):
    return [source_from_image(f"t-{a}", a, _image(a, seed), Platform("linux", a)) for a in PLATFORMS]


def test_the_plan_copies_platform_manifests_and_adds_a_deterministic_index():
    plan = plan_promotion(_build_of(), V010, _sources(), {})
    again = plan_promotion(_build_of(), V010, _sources(), {})
    assert [w.tag for w in plan.to_write] == ["0.1.0-amd64", "0.1.0-arm64", "0.1.0"]
    assert plan.writes[0].manifest == _image("amd64")
    assert plan.index.data == again.index.data
    entries = plan.index.children()
    assert [(e.digest, e.platform) for e in entries] == [(_image(a).digest, Platform("linux", a)) for a in PLATFORMS]


def test_tags_holding_the_right_digest_are_unchanged_and_others_are_refused_all_at_once():
    sources = _sources()
    plan = plan_promotion(_build_of(), V010, sources, {})
    done = plan_promotion(
        _build_of(), V010, sources, {"0.1.0-amd64": sources[0].manifest.digest, "0.1.0": plan.index.digest}
    )
    assert [w.tag for w in done.unchanged] == ["0.1.0-amd64", "0.1.0"]
    assert [w.tag for w in done.to_write] == ["0.1.0-arm64"]
    other = "sha256:" + "e" * 64
    with pytest.raises(CheckFailed) as refused:
        plan_promotion(_build_of(), V010, sources, {"0.1.0-arm64": other, "0.1.0": other})
    assert f"0.1.0-arm64 holds {other}" in refused.value.message and f"0.1.0 holds {other}" in refused.value.message
    assert sources[1].manifest.digest in refused.value.message and "nothing was written" in refused.value.message


def _index_of(*entries: dict) -> Manifest:
    return Manifest(
        OCI_INDEX, json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries)}).encode()
    )


def _entry(digest_seed: str, platform: dict | None, annotations: dict | None = None) -> dict:
    entry = {"mediaType": OCI_MANIFEST, "digest": sha256_digest(digest_seed.encode()), "size": 10}
    if platform is not None:
        entry["platform"] = platform
    if annotations:
        entry["annotations"] = annotations
    return entry


def test_a_per_arch_index_gives_its_platform_image_and_that_image_attestation():
    image = _entry("image", {"architecture": "arm64", "os": "linux", "variant": "v8"})
    attestation = _entry(
        "att",
        {"architecture": "unknown", "os": "unknown"},
        {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": image["digest"]},
    )
    unrelated = _entry(
        "other-att",
        {"architecture": "unknown", "os": "unknown"},
        {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": "sha256:" + "0" * 64},
    )
    source = source_from_index("t-arm64", "arm64", _index_of(image, attestation, unrelated))
    assert source.entry.digest == image["digest"] and str(source.entry.platform) == "linux/arm64/v8"
    assert [a.digest for a in source.attestations] == [attestation["digest"]]
    assert "linux/arm64/v8 image" in (source.note or "")


@pytest.mark.parametrize(
    "entries",
    [
        [_entry("a", {"architecture": "amd64", "os": "linux"})],
        [_entry("a", {"architecture": "arm64", "os": "linux"}), _entry("b", {"architecture": "arm64", "os": "linux"})],
        [_entry("a", None)],
    ],
    ids=["wrong-arch", "two-images", "no-platform"],
)
def test_a_per_arch_index_without_exactly_one_matching_image_is_refused(entries):
    with pytest.raises(CheckFailed, match="instead of exactly one arm64 image"):
        source_from_index("t-arm64", "arm64", _index_of(*entries))


def test_an_image_whose_config_has_another_arch_is_refused():
    with pytest.raises(CheckFailed, match="is tagged amd64, but its image is linux/arm64"):
        source_from_image(
            "t-amd64", "amd64", _image("amd64"), platform_of_config(b'{"os":"linux","architecture":"arm64"}', "c")
        )


def test_request_budget():
    assert request_budget(2, 1) == 15 and request_budget(2, 10) == 24


@pytest.mark.parametrize(
    ("content_type", "data", "problem"),
    [
        (OCI_MANIFEST, b"not json", "not JSON"),
        (OCI_MANIFEST, b'{"schemaVersion": 1}', "schemaVersion is 1"),
        ("application/json", b'{"schemaVersion": 2}', "media type None is none of"),
        (OCI_INDEX, json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode(), "served as"),
        (None, json.dumps({"schemaVersion": 2, "mediaType": "application/x-other"}).encode(), "is none of"),
    ],
)
def test_manifests_that_are_not_one_of_the_four_types_are_refused(content_type, data, problem):
    with pytest.raises(CheckFailed, match=problem):
        parse_manifest(content_type, data, "somewhere")


def test_the_media_type_comes_from_content_type_with_parameters_or_from_the_document():
    data = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()
    assert parse_manifest(f"{OCI_MANIFEST}; charset=utf-8", data, "x").media_type == OCI_MANIFEST
    assert parse_manifest("application/json", data, "x").media_type == OCI_MANIFEST
    assert parse_manifest(None, data, "x").data == data


_platform = st.builds(
    Platform,
    st.sampled_from(["linux", "windows", "unknown"]),
    st.sampled_from(["amd64", "arm64", "unknown"]),
    st.none() | st.sampled_from(["v7", "v8"]),
)
_descriptor = st.builds(
    Descriptor,
    st.sampled_from([OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"]),
    st.binary(max_size=8).map(sha256_digest),
    st.integers(0, 10**9),
    st.none() | _platform,
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=2).map(
        lambda d: tuple(sorted(d.items()))
    ),
)


@given(st.lists(_descriptor, max_size=5))
def test_image_index_round_trips_its_entries_and_is_deterministic(entries):
    index = image_index(entries)
    assert index.media_type == OCI_INDEX and index.digest == sha256_digest(index.data)
    assert index.children() == tuple(entries)
    assert image_index(entries).data == index.data
    assert parse_manifest(OCI_INDEX, index.data, "x") == index
