"""`python -m pipelines plan` says what percolate-rocks' workflows do, step for job, in their order.

The plan is what a maintainer reads before pushing a tag (and what the plan job prints in the run's
summary), so a job the workflow runs and the plan leaves out, such as the refusal of an RC TestPyPI
already holds (`wheels check-unpublished`, issue 22), is a surprise in the middle of a release. Each plan
step names the job that does it; the rules: every step's job exists, every job that builds, tests,
publishes or records is some step's, the plan's order never puts a step before one whose job its own job
waits for, and the two `check-unpublished` calls (the plan job's refusal, the publish job's resume) are in
the plan exactly when they are in the workflow. Controls: plans and workflows changed in memory.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
from datetime import UTC, datetime
from typing import Any

import pytest

from pipelines.core.catalog import DEFAULT_REGISTRY, get_project
from pipelines.core.tags import parse_tag
from pipelines.core.version_check import VersionReading, check_versions
from pipelines.core.versions import parse_version
from pipelines.plan.steps import Plan, Step, make_plan

BUILD, RELEASE = "build-rocks.yml", "release-rocks.yml"
# Plan step (a glob over the ids) -> the job that does it.
JOBS = {
    BUILD: {
        "check-versions": "plan", "check-unpublished": "plan", "set-version": "wheels", "cargo-test": "cargo-test",
        "wheel-*": "wheels", "sdist": "sdist", "test-*": "test-wheels", "benchmarks": "benchmarks",
        "publish": "publish-testpypi", "metadata": "metadata", "staging-record": "staging-record",
        "staging-*": "staging-tests",
    },
    RELEASE: {
        "check-versions": "plan", "find-rc": "promote-wheels", "promote": "promote-wheels", "sbom": "sbom",
        "sign": "sign", "publish": "publish-pypi", "github-release": "github-release",
    },
}  # fmt: skip
# Jobs no plan step needs to name: notifications and the dashboard rebuild, which never stop a release.
UNPLANNED = {"notify-built", "notify-released", "notify-failed", "pages"}
CHECK = "python -m pipelines wheels check-unpublished"


def plan_for(tag_name: str) -> Plan:
    tag = parse_tag(tag_name)
    project = get_project(tag.project)
    readings = [VersionReading(path, "version", "0.2.0", parse_version("0.2.0")) for path in project.version_files]
    check = check_versions(project.name, readings, expected=tag.version)
    at = datetime(2026, 3, 4, tzinfo=UTC)
    return make_plan(tag, check, commit="0" * 40, run_number=1, at=at, registry=DEFAULT_REGISTRY)


def job_of(name: str, step: Step) -> str | None:
    # The most specific glob first: `staging-record` is its own job, `staging-*` the matrix.
    for pattern in sorted(JOBS[name], key=lambda p: ("*" in p, -len(p))):
        if fnmatch.fnmatchcase(step.id, pattern):
            return JOBS[name][pattern]
    return None


def problems(workflows, name: str, plan: Plan) -> list[str]:
    workflow = workflows[name]
    found = []
    jobs = [job_of(name, step) for step in plan.steps]
    for step, job in zip(plan.steps, jobs, strict=True):
        if job is None or job not in workflow.jobs:
            found.append(f"{name}: plan step {step.id} is done by no job ({job})")
    for job_id in sorted(set(workflow.jobs) - set(jobs) - UNPLANNED):
        found.append(f"{name}: job {job_id} is in no step of the plan")
    for later, job in enumerate(jobs):
        if job not in workflow.jobs:
            continue
        waits_for = workflow.needed_by(workflow.jobs[job])
        for step, other in zip(plan.steps[later + 1 :], jobs[later + 1 :], strict=True):
            if other in waits_for:
                found.append(f"{name}: the plan lists {step.id} ({other}) after {plan.steps[later].id} ({job})")
    if name == BUILD:
        scripts = {job_id: " ".join(s.run or "" for s in job.steps) for job_id, job in workflow.jobs.items()}
        refuses = CHECK in scripts.get("plan", "")
        resumes = f"{CHECK} percolate-rocks" in scripts.get("publish-testpypi", "") and "--files" in scripts.get(
            "publish-testpypi", ""
        )
        ids = {step.id: step.description for step in plan.steps}
        if refuses != ("check-unpublished" in ids):
            found.append(f"{name}: the plan job's `wheels check-unpublished` and the plan disagree")
        if resumes != ("only the files TestPyPI lacks" in ids.get("publish", "")):
            found.append(f"{name}: the publish job's `wheels check-unpublished --files` and the plan disagree")
    return found


@pytest.mark.parametrize(("name", "tag"), [(BUILD, "percolate-rocks-v0.2.0-rc1"), (RELEASE, "percolate-rocks-v0.2.0")])
def test_the_plan_is_what_the_workflow_does(workflows, name, tag):
    assert problems(workflows, name, plan_for(tag)) == []


def without(plan: Plan, step_id: str) -> Plan:
    return dataclasses.replace(plan, steps=tuple(s for s in plan.steps if s.id != step_id))


def moved(plan: Plan, step_id: str, before: str) -> Plan:
    steps = [s for s in plan.steps if s.id != step_id]
    index = next(i for i, s in enumerate(steps) if s.id == before)
    steps.insert(index, next(s for s in plan.steps if s.id == step_id))
    return dataclasses.replace(plan, steps=tuple(steps))


def changed_workflow(workflows, name: str, change) -> dict[str, Any]:
    data = copy.deepcopy(workflows[name].data)
    change(data)
    return {**workflows, name: dataclasses.replace(workflows[name], data=data)}


def _drop_check(data: dict[str, Any]) -> None:
    data["jobs"]["plan"]["steps"] = [s for s in data["jobs"]["plan"]["steps"] if CHECK not in (s.get("run") or "")]


def _drop_sbom(data: dict[str, Any]) -> None:
    data["jobs"].pop("sbom")
    data["jobs"]["sign"]["needs"] = ["promote-wheels"]


@pytest.mark.parametrize(
    ("name", "tag", "plan_change", "workflow_change", "problem"),
    [
        # The plan before issue 22's leftover was closed: no refusal of an RC already on TestPyPI.
        (BUILD, "percolate-rocks-v0.2.0-rc1", lambda p: without(p, "check-unpublished"), None, "plan job's"),
        (BUILD, "percolate-rocks-v0.2.0-rc1", lambda p: without(p, "benchmarks"), None, "job benchmarks"),
        (BUILD, "percolate-rocks-v0.2.0-rc1", None, _drop_check, "plan job's"),
        (BUILD, "percolate-rocks-v0.2.0-rc1", lambda p: moved(p, "publish", "test-manylinux-x86_64"), None, "after"),
        # The release plan's former order: PyPI before the signatures (the workflow signs first).
        (RELEASE, "percolate-rocks-v0.2.0", lambda p: moved(p, "publish", "sign"), None, "after"),
        (RELEASE, "percolate-rocks-v0.2.0", None, _drop_sbom, "step sbom is done by no job"),
    ],
)
def test_the_rules_reject_their_controls(workflows, name, tag, plan_change, workflow_change, problem):
    plan = plan_for(tag)
    plan = plan_change(plan) if plan_change else plan
    flows = changed_workflow(workflows, name, workflow_change) if workflow_change else workflows
    found = problems(flows, name, plan)
    assert any(problem in line for line in found), found
