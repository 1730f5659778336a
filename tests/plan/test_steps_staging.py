"""The plans name the staging steps in workflow order: RC builds end in staging, releases start with its record."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.core.catalog import get_project
from pipelines.core.tags import parse_tag
from pipelines.core.version_check import VersionReading, check_versions
from pipelines.core.versions import parse_version
from pipelines.plan.steps import make_plan

AT = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


def plan_for(tag_name: str):
    tag = parse_tag(tag_name)
    project = get_project(tag.project)
    readings = [VersionReading(path, "version", "0.1.0", parse_version("0.1.0")) for path in project.version_files]
    check = check_versions(project.name, readings, expected=tag.version)
    return make_plan(tag, check, commit=SHA, run_number=42, at=AT, registry="127.0.0.1:5000/labs")


def test_an_image_rc_ends_in_staging_with_its_build_index():
    plan = plan_for("percolate-v0.1.0-rc1")
    ids = [step.id for step in plan.steps]
    assert ids[-6:] == ["metadata", "build-index", "staging-deploy", "staging-gate", "staging-tests", "staging-record"]
    steps = {step.id: step.description for step in plan.steps}
    assert "127.0.0.1:5000/labs/percolate:2026.03.04.0506-build.42-v0.1.0-0123456 " in steps["build-index"]
    assert "percolate-api-staging" in steps["staging-gate"]


def test_an_image_release_checks_the_staging_record_before_choosing():
    ids = [step.id for step in plan_for("percolate-reading-v0.1.0").steps]
    assert ids.index("staging-check") < ids.index("choose-build")


def test_a_wheel_rc_is_installed_from_testpypi_on_every_platform_after_publishing():
    plan = plan_for("percolate-rocks-v0.1.0-rc3")
    ids = [step.id for step in plan.steps]
    targets = [target.name for target in get_project("percolate-rocks").wheel_targets]
    assert ids[ids.index("publish") :][-len(targets) - 1 :] == [*(f"staging-{t}" for t in targets), "staging-record"]
    assert "percolate-rocks==0.1.0rc3 from TestPyPI" in plan.steps[ids.index(f"staging-{targets[0]}")].description
