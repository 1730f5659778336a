"""Which build staging runs: the newest complete build with a build index, read from the real local registry."""

from __future__ import annotations

import pytest

from pipelines.core.catalog import IMAGE_PLATFORMS, get_project
from pipelines.core.errors import Corrupt
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.location import parse_registry
from pipelines.staging.target import choose_staging_build, resolve_target
from tests.staging.staging_builds import push_build_index, push_staged_build

OLD = "2025.11.20.0930-build.7-v0.2.0-abc1234"
NEW = "2025.11.21.0800-build.9-v0.3.0-def5678"
NEWER_BY_NUMBER = "2025.11.21.0800-build.10-v0.3.0-def5678"


def tags(*builds: str, arches: tuple[str, ...] = IMAGE_PLATFORMS, index: bool = True) -> list[str]:
    found = [f"{build}-{arch}" for build in builds for arch in arches]
    return found + (list(builds) if index else [])


def test_the_newest_complete_build_with_an_index_is_chosen_across_versions():
    choice = choose_staging_build([*tags(OLD, NEW, NEWER_BY_NUMBER), "0.1.0", "latest"], IMAGE_PLATFORMS)
    assert choice.build is not None and choice.build.name == NEWER_BY_NUMBER  # build.10 after build.9, not as text
    assert choice.passed_over == ()


def test_a_newer_incomplete_build_is_never_chosen():
    names = tags(OLD) + tags(NEW, arches=("amd64",))
    choice = choose_staging_build(names, IMAGE_PLATFORMS)
    assert choice.build is not None and choice.build.name == OLD
    assert choice.passed_over == (f"{NEW} (missing arm64)",)


def test_a_newer_build_without_an_index_is_not_chosen():
    choice = choose_staging_build(tags(OLD) + tags(NEW, index=False), IMAGE_PLATFORMS)
    assert choice.build is not None and choice.build.name == OLD
    assert choice.passed_over == (f"{NEW} (no build index at its stem (build-index did not run))",)


def test_no_build_qualifies():
    choice = choose_staging_build([*tags(OLD, index=False), "0.1.0"], IMAGE_PLATFORMS)
    assert choice.build is None
    assert len(choice.passed_over) == 1


def client_of(area) -> RegistryClient:
    return RegistryClient(parse_registry(area.registry()))


def test_resolved_from_the_registry_is_the_index_digest_skopeo_reads(area):
    project = get_project("percolate")
    index = push_staged_build(area, "percolate", sha="abc1234", number=7, at="2025-11-20T09:30:00+00:00")
    # Newer, but incomplete (arm64 never pushed): staging keeps the older build.
    area.push_build(
        "percolate", sha="def5678", number=9, at="2025-11-21T08:00:00+00:00", arches=("amd64",), version="0.2.0"
    )
    # Newer still and complete, but its build-index never ran.
    area.push_build("percolate", sha="0a1b2c3", number=10, at="2025-11-21T09:00:00+00:00", version="0.2.0")
    with client_of(area) as client:
        target = resolve_target(client, project)
    stem = "2025.11.20.0930-build.7-v0.2.0-abc1234"
    assert target.build == stem
    assert target.version == "0.2.0"
    assert target.digest == index.digest == area.digest("percolate", stem)
    assert target.repository == f"{area.registry()}/percolate"
    assert dict(target.platforms) == {arch: area.digest("percolate", f"{stem}-{arch}") for arch in project.platforms}
    assert [line.split(" ")[0] for line in target.passed_over] == [
        "2025.11.21.0900-build.10-v0.2.0-0a1b2c3",
        "2025.11.21.0800-build.9-v0.2.0-def5678",
    ]
    assert target.pin().reference == f"{area.registry()}/percolate@{index.digest}"


def test_a_repository_without_builds_has_no_target(area):
    area.push_build("percolate-reading", sha="abc1234", number=1, arches=("arm64",))
    with client_of(area) as client:
        target = resolve_target(client, get_project("percolate-reading"))
    assert target.digest is None and target.build is None
    assert target.to_dict()["passed_over"] == ["2025.10.25.1430-build.1-v0.1.0-abc1234 (missing amd64)"]


def test_a_stem_that_is_no_index_or_lacks_a_platform_is_corrupt(area):
    pushed = area.push_build("percolate", sha="abc1234", number=3)
    stem = area.build_tag(version="0.1.0", sha="abc1234", number=3, at="2025-10-25T14:30:00+00:00", arch="x")[:-2]
    push_build_index(area, "percolate", stem, {"amd64": pushed["amd64"]})
    with client_of(area) as client, pytest.raises(Corrupt, match="lacks arm64"):
        resolve_target(client, get_project("percolate"))
    area.pusher.manifest(area.repository("percolate"), stem, pushed["amd64"])
    with client_of(area) as client, pytest.raises(Corrupt, match="not a build index"):
        resolve_target(client, get_project("percolate"))
