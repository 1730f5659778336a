"""Every image RC build and release rebuilds the dashboard as its last job (issue 22, item 4).

A release's GitHub release is created with GITHUB_TOKEN, which starts no workflow, and a pages run started by
the release tag built the page before that release existed (it waits for the production reviewer); RC tags
never rebuilt it. So build-percolate.yml, build-reading.yml, release-percolate.yml and release-reading.yml
each call pages.yml (`workflow_call`) after everything else. pages.yml keeps its concurrency rule (one
group `pages`, never cancelled half-way; now on each job, since a reusable workflow holds none of its own,
and queued, so that no caller's run ends cancelled) and its permissions, and the `github-pages`
environment admits the tags those runs are on. Each rule has controls: broken copies it must reject.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from infra.pages import PAGES_ENVIRONMENT
from infra.render import offline_answers, read_stack_file, run_program

REPO_ROOT = Path(__file__).resolve().parents[2]
PAGES = "pages.yml"
CALLERS = {
    "build-percolate.yml": "percolate-v0.2.0-rc1",
    "build-reading.yml": "percolate-reading-v1.20.300-rc12",
    "release-percolate.yml": "percolate-v0.2.0",
    "release-reading.yml": "percolate-reading-v1.20.300",
}
PAGES_PERMISSIONS = {
    "build": {"contents": "read", "packages": "read"},
    "deploy": {"pages": "write", "id-token": "write"},
}
POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"


@pytest.fixture(scope="module")
def pages_tag_patterns() -> list[str]:
    """The tag patterns environment github-pages admits, from the Pulumi program (the prod stack)."""
    config = read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    resources = run_program(config, offline_answers(config)).resources
    return [
        r.inputs["tagPattern"]
        for r in resources
        if r.type == POLICY and r.inputs["environment"] == PAGES_ENVIRONMENT and "tagPattern" in r.inputs
    ]


def rebuild_problems(workflows, tag_patterns: list[str]) -> list[str]:
    problems = []
    pages = workflows[PAGES]
    if "workflow_call" not in pages.triggers:
        problems.append(f"{PAGES}: cannot be called (no workflow_call)")
    for job_id, wanted in PAGES_PERMISSIONS.items():
        job = pages.jobs[job_id].data
        if job.get("permissions") != wanted:
            problems.append(f"{PAGES} {job_id}: permissions {job.get('permissions')}, not {wanted}")
        concurrency = job.get("concurrency") or {}
        if concurrency.get("group") != "pages" or concurrency.get("cancel-in-progress") is not False:
            problems.append(f"{PAGES} {job_id}: not in the group `pages`, never cancelled")
        if concurrency.get("queue") != "max":
            problems.append(f"{PAGES} {job_id}: a waiting run can be dropped (the caller's run ends cancelled)")
    if (pages.jobs["deploy"].data.get("environment") or {}).get("name") != PAGES_ENVIRONMENT:
        problems.append(f"{PAGES} deploy: not in environment {PAGES_ENVIRONMENT}")
    for name, tag in CALLERS.items():
        workflow = workflows[name]
        if not workflow.starts_on_tag(tag):
            problems.append(f"{name}: does not start on {tag} (the sample tag of this check)")
        callers = [job for job in workflow.jobs.values() if job.calls == PAGES]
        if len(callers) != 1:
            problems.append(f"{name}: {len(callers)} jobs call {PAGES}, not one")
            continue
        (job,) = callers
        others = set(workflow.jobs) - {job.id}
        if workflow.needed_by(job) != others:
            problems.append(f"{name} {job.id}: not the last job (waits for {sorted(workflow.needed_by(job))})")
        if job.data.get("if") != "${{ !cancelled() }}":
            problems.append(f"{name} {job.id}: runs on {job.data.get('if')!r}; a failed RC or release must show too")
        if (job.data.get("with") or {}).get("best-effort") is not True:
            problems.append(f"{name} {job.id}: a failed rebuild of the page would fail the run")
        if pages.starts_on_tag(tag):
            problems.append(f"{name}: {PAGES} also starts on {tag} itself, before the release exists")
        if not any(fnmatchcase(tag, pattern) for pattern in tag_patterns):
            problems.append(f"{name}: environment {PAGES_ENVIRONMENT} does not admit {tag}")
    for job_id in PAGES_PERMISSIONS:
        if pages.jobs[job_id].data.get("continue-on-error") != "${{ inputs.best-effort == true }}":
            problems.append(f"{PAGES} {job_id}: does not continue on error when a caller asks it to")
    return problems


def test_every_image_rc_build_and_release_rebuilds_the_dashboard_last(workflows, pages_tag_patterns):
    assert rebuild_problems(workflows, pages_tag_patterns) == []


def broken(workflows, name: str, change: Callable[[dict[str, Any]], None]):
    data = copy.deepcopy(workflows[name].data)
    change(data)
    return {**workflows, name: dataclasses.replace(workflows[name], data=data)}


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        # As before issue 22: nothing calls the page, and a release tag starts it on its own.
        ("release-percolate.yml", lambda w: w["jobs"].pop("pages"), "release-percolate.yml: 0 jobs call"),
        (
            PAGES,
            lambda w: w["on"]["push"].setdefault("tags", []).append("percolate-v[0-9]+.[0-9]+.[0-9]+"),
            "also starts on percolate-v0.2.0 itself",
        ),
        (PAGES, lambda w: w["on"].pop("workflow_call"), "cannot be called"),
        ("build-reading.yml", lambda w: w["jobs"]["pages"].pop("needs"), "build-reading.yml pages: not the last job"),
        ("build-percolate.yml", lambda w: w["jobs"]["pages"].pop("if"), "a failed RC or release must show too"),
        ("release-reading.yml", lambda w: w["jobs"]["pages"].pop("with"), "would fail the run"),
        (PAGES, lambda w: w["jobs"]["deploy"].pop("concurrency"), "pages.yml deploy: not in the group `pages`"),
        (PAGES, lambda w: w["jobs"]["build"]["concurrency"].pop("queue"), "pages.yml build: a waiting run"),
        (
            PAGES,
            lambda w: w["jobs"]["build"]["permissions"].update(contents="write"),
            "pages.yml build: permissions",
        ),
        (PAGES, lambda w: w["jobs"]["deploy"].pop("continue-on-error"), "pages.yml deploy: does not continue"),
    ],
)
def test_the_rebuild_check_rejects_its_controls(workflows, pages_tag_patterns, name, change, problem):
    problems = rebuild_problems(broken(workflows, name, change), pages_tag_patterns)
    assert any(problem in line for line in problems), problems


def test_an_environment_that_admits_no_rc_tag_is_caught(workflows, pages_tag_patterns):
    """Control: github-pages as it was, admitting main and release tags only; the RC builds' deploys fail."""
    release_only = [pattern for pattern in pages_tag_patterns if "-rc" not in pattern]
    assert len(release_only) < len(pages_tag_patterns)
    problems = rebuild_problems(workflows, release_only)
    assert "build-percolate.yml: environment github-pages does not admit percolate-v0.2.0-rc1" in problems
    assert not any(name.startswith("release-") for line in problems for name in [line.split(":")[0]])
