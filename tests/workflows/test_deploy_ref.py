"""deploy.yml deploys main, and refuses any other ref loudly (issue 22, item 5).

Environment `production` admits release tags as well as main (the release jobs run in it), so its
deployment policy lets a `workflow_dispatch` of deploy.yml on an old release tag through; once a reviewer
approved, `pulumi up --stack prod` would apply that tag's Pulumi.prod.yaml and revert settings and pins.
The refusal is in the workflow itself: a job without environment or permissions fails the run before a
reviewer is asked or a production secret is handed out, and the deploy job's own first step refuses
again. A job-level `if:` would only skip the job, and a skipped job leaves the run green: no refusal.
The refusal scripts run under bash with the refs a run can have.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from infra.branches import MAIN_BRANCH
from tests.workflows.stand_ins import run_as_step

DEPLOY = "deploy.yml"
MAIN = f"refs/heads/{MAIN_BRANCH}"
OTHER_REFS = (
    "refs/tags/percolate-v0.1.0",  # an old release tag: production admits it
    "refs/tags/percolate-reading-v1.2.3",
    f"refs/heads/{MAIN_BRANCH}-old",
    "refs/heads/feature",
    "refs/pull/7/merge",
    "",
)


def refuses(step: dict[str, Any]) -> bool:
    script = step.get("run") or ""
    return '"$GITHUB_REF" != refs/heads/main' in script and "exit 1" in script


def ref_problems(workflows) -> list[str]:
    workflow = workflows[DEPLOY]
    problems = []
    jobs = workflow.jobs
    deploy = jobs.get("deploy")
    if deploy is None:
        return [f"{DEPLOY}: no job deploy"]
    for job in jobs.values():
        if "if" in job.data:
            problems.append(f"{job.label}: a job-level if skips the job, and a skipped job refuses nothing")
    steps = deploy.steps
    if not steps or not refuses(steps[0].data):
        problems.append(f"{deploy.label}: its first step does not refuse a ref other than main")
    elif {"if", "continue-on-error"} & set(steps[0].data):
        problems.append(f"{deploy.label}: the refusal can be skipped or ignored")
    guards = [job for job in jobs.values() if job.id != "deploy" and any(refuses(s.data) for s in job.steps)]
    if not guards:
        problems.append(f"{DEPLOY}: no job refuses the ref before the deploy job asks a reviewer")
    for guard in guards:
        if guard.id not in workflow.needed_by(deploy):
            problems.append(f"{deploy.label}: does not wait for {guard.id}, so the reviewer is asked anyway")
        if "environment" in guard.data or guard.permissions != {}:
            problems.append(f"{guard.label}: holds an environment or permissions; it needs none")
    return problems


def run_refusal(script: str, ref: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "GITHUB_REF": ref, "GITHUB_SHA": "0" * 40}
    return run_as_step(script, env, timeout=30)


def refusal_problems(script: str) -> list[str]:
    problems = []
    if run_refusal(script, MAIN).returncode != 0:
        problems.append(f"refuses {MAIN}")
    for ref in OTHER_REFS:
        result = run_refusal(script, ref)
        if result.returncode == 0:
            problems.append(f"lets {ref!r} through")
        elif not any(line.startswith("::error") and "main" in line for line in result.stdout.splitlines()):
            problems.append(f"refuses {ref!r} without an error that says main only")
    return problems


def refusal_steps(workflows) -> list[tuple[str, str]]:
    return [
        (job.id, step.data["run"])
        for job in workflows[DEPLOY].jobs.values()
        for step in job.steps
        if refuses(step.data)
    ]


def test_deploy_runs_from_main_only_and_refuses_in_the_job(workflows):
    assert ref_problems(workflows) == []


def test_each_refusal_lets_main_through_and_stops_every_other_ref(workflows):
    found = refusal_steps(workflows)
    assert {job for job, _ in found} == {"main-only", "deploy"}
    for job, script in found:
        assert refusal_problems(script) == [], job


def broken(workflows, change: Callable[[dict[str, Any]], None]):
    data = copy.deepcopy(workflows[DEPLOY].data)
    change(data)
    return {**workflows, DEPLOY: dataclasses.replace(workflows[DEPLOY], data=data)}


def skip_instead(w: dict[str, Any]) -> None:
    """The tempting fix: a job-level if. On a tag the jobs are skipped and the run is green."""
    del w["jobs"]["main-only"]
    w["jobs"]["deploy"].pop("needs")
    w["jobs"]["deploy"]["steps"].pop(0)
    w["jobs"]["deploy"]["if"] = "github.ref == 'refs/heads/main'"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (skip_instead, "a job-level if skips the job"),
        (lambda w: w["jobs"]["deploy"]["steps"].pop(0), "its first step does not refuse"),
        # The refusal after the checkout and the credentials: it would run only after a reviewer approved.
        (
            lambda w: w["jobs"]["deploy"]["steps"].insert(3, w["jobs"]["deploy"]["steps"].pop(0)),
            "its first step does not refuse",
        ),
        (lambda w: w["jobs"]["deploy"]["steps"][0].update({"continue-on-error": True}), "can be skipped or ignored"),
        (lambda w: w["jobs"]["deploy"].pop("needs"), "so the reviewer is asked anyway"),
        (lambda w: w["jobs"]["main-only"].update(environment="production"), "holds an environment or permissions"),
        (lambda w: w["jobs"].pop("main-only") and w["jobs"]["deploy"].pop("needs"), "no job refuses the ref"),
    ],
)
def test_the_ref_check_rejects_its_controls(workflows, change, problem):
    problems = ref_problems(broken(workflows, change))
    assert any(problem in line for line in problems), problems


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        # A prefix match would admit main-old; a tag test would admit a branch; no exit, no refusal.
        (
            lambda s: s.replace('"$GITHUB_REF" != refs/heads/main', '"${GITHUB_REF#refs/heads/main}" = "$GITHUB_REF"'),
            "main-old",
        ),
        (
            lambda s: s.replace('"$GITHUB_REF" != refs/heads/main', '"${GITHUB_REF#refs/tags/}" != "$GITHUB_REF"'),
            "feature",
        ),
        (lambda s: s.replace("exit 1", "true"), "percolate-v0.1.0"),
    ],
)
def test_the_refusal_check_rejects_its_controls(workflows, change, problem):
    (_, script), *_ = refusal_steps(workflows)
    problems = refusal_problems(change(script))
    assert any(problem in line for line in problems), problems
