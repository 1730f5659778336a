"""Plans: what the workflow does for each kind of tag, as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipelines.core.calver import parse_build_tag
from pipelines.core.catalog import DEFAULT_REGISTRY, PROJECTS, get_project
from pipelines.core.tags import format_tag, parse_tag
from pipelines.core.version_check import VersionReading, check_versions
from pipelines.core.versions import ProjectVersion, parse_version
from pipelines.plan.steps import make_plan

AT = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


def plan_for(tag_name: str, file_version: str = "0.1.0", registry: str = DEFAULT_REGISTRY):
    tag = parse_tag(tag_name)
    project = get_project(tag.project)
    readings = [
        VersionReading(path, "version", file_version, parse_version(file_version)) for path in project.version_files
    ]
    check = check_versions(project.name, readings, expected=tag.version)
    return make_plan(tag, check, commit=SHA, run_number=42, at=AT, registry=registry)


def test_image_rc_plan_pushes_one_calver_tag_per_platform_for_this_commit_and_run():
    plan = plan_for("percolate-reading-v0.1.0-rc2", registry="127.0.0.1:5000/labs")
    images = [a for a in plan.artifacts if a.kind == "image"]
    assert [a.platform for a in images] == ["amd64", "arm64"]
    for artifact in images:
        repository, tag = artifact.name.rsplit(":", 1)
        assert repository == "127.0.0.1:5000/labs/percolate-reading"
        build = parse_build_tag(tag)
        assert (build.build, build.sha, build.arch, build.built_at) == (42, SHA[:7], artifact.platform, AT)
        assert build.version == ProjectVersion(0, 1, 0)
    assert plan.environment is None
    ids = [s.id for s in plan.steps]
    assert ids[0] == "check-versions"
    assert {"build-amd64", "test-arm64", "scan-amd64", "push-arm64", "metadata"} <= set(ids)


def test_image_release_plan_writes_release_tags_and_deploys_to_production():
    plan = plan_for("percolate-v0.1.0")
    assert [a.name for a in plan.artifacts] == [
        "ghcr.io/percolation-labs/percolate:0.1.0-amd64",
        "ghcr.io/percolation-labs/percolate:0.1.0-arm64",
        "ghcr.io/percolation-labs/percolate:0.1.0",
    ]
    assert plan.artifacts[-1].kind == "image-index"
    assert plan.environment == "production"
    descriptions = " ".join(s.description for s in plan.steps)
    assert "percolate-api" in descriptions and "deploy/percolate-v0.1.0" in descriptions


def test_wheel_rc_plan_builds_every_catalog_target_at_the_rc_version_in_staging():
    plan = plan_for("percolate-rocks-v0.1.0-rc3")
    rocks = get_project("percolate-rocks")
    wheels = [a for a in plan.artifacts if a.kind == "wheel"]
    assert [a.platform for a in wheels] == [t.name for t in rocks.wheel_targets]
    assert all(a.name.startswith("percolate_rocks-0.1.0rc3-") for a in wheels)
    assert [a.name for a in plan.artifacts if a.kind == "sdist"] == ["percolate_rocks-0.1.0rc3.tar.gz"]
    assert plan.environment == "staging"
    assert "0.1.0rc3" in next(s.description for s in plan.steps if s.id == "set-version")


def test_wheel_release_plan_promotes_without_rebuilding_in_production():
    plan = plan_for("percolate-rocks-v0.1.0")
    assert all("0.1.0-" in a.name or a.name.endswith("0.1.0.tar.gz") for a in plan.artifacts)
    assert plan.environment == "production"
    assert [s.id for s in plan.steps][:3] == ["check-versions", "find-rc", "promote"]


def test_a_failed_version_check_is_part_of_the_plan():
    plan = plan_for("percolate-v0.1.0-rc1", file_version="0.9.0")
    data = plan.to_dict()
    assert data["version_check"]["ok"] is False
    assert "the tag says 0.1.0" in data["version_check"]["problems"][0]
    assert "FAILED" in plan.steps[0].description


@pytest.mark.parametrize("project", [p.name for p in PROJECTS])
@pytest.mark.parametrize("rc", [None, 1])
def test_every_project_and_stage_has_a_plan_with_json_fields(project: str, rc: int | None):
    data = plan_for(format_tag(project, ProjectVersion(0, 1, 0), rc)).to_dict()
    assert data["project"] == project
    assert data["stage"] == ("build" if rc else "release")
    assert data["artifacts"] and data["steps"]
    assert data["version_check"]["ok"] is True
