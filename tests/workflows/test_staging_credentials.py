"""Credentials reach the jobs that deploy, or the job stops at once naming what is missing (issue 22, item 2).

`STAGING_KUBECONFIG` is a secret of environment `staging`, read by the staging job of the reusable
`_build-image.yml`. GitHub documents that a called workflow's job that names an environment gets that
environment's secrets; field reports (actions/runner#4453, #1490) say they arrive empty unless the caller
passes or inherits them. The callers therefore pass it by name, which works under either behaviour, and
the job checks every credential it consumes before the first step that uses one, so that an empty value
fails there, naming the secret and where to set it, instead of as a Kubernetes error in `pulumi up`.

Each rule runs on our workflows and on broken copies (the controls); the check step's own script runs
under bash with each credential empty, blank and set.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.stand_ins import run_as_step

BUILD = "_build-image.yml"
CALLERS = ("build-percolate.yml", "build-reading.yml")
# Each deploying job, the credentials it consumes (secrets and variables), and where each must be set.
CREDENTIALS = {
    (BUILD, "staging"): {
        "STAGING_KUBECONFIG": "Environments → staging",
        "PULUMI_ORGANIZATION": "Variables",
    },
    ("deploy.yml", "deploy"): {
        "KUBECONFIG": "Environments → production",
        "INFRA_GITHUB_TOKEN": "Environments → production",
        "PULUMI_ORGANIZATION": "Variables",
    },
}
# Credentials a deploying job may hold empty: the webhooks (optional), and the rollback's pull-request token,
# which only a failed health gate uses.
OPTIONAL = {"SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL", "PERCOLATE_GIT_PAT"}
CONTEXT = re.compile(r"\$\{\{\s*(?:secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def consumed(step: dict[str, Any]) -> set[str]:
    """The secrets and variables a step reads (`${{ secrets.X }}`, `${{ vars.X }}`), GITHUB_TOKEN aside."""
    text = str({key: value for key, value in step.items() if key in ("env", "with")})
    return set(CONTEXT.findall(text)) - {"GITHUB_TOKEN"}


def check_step(job: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The step that checks the job's credentials: a script that stops (`exit`) on an empty value."""
    for index, step in enumerate(job.get("steps") or []):
        script = step.get("run") or ""
        if consumed(step) and "-z " in script and "::error" in script and "exit" in script:
            return index, step
    return None


def credential_problems(workflows) -> list[str]:
    problems = []
    declared = (workflows[BUILD].data["on"]["workflow_call"].get("secrets") or {}).keys()
    if "STAGING_KUBECONFIG" not in declared:
        problems.append(f"{BUILD}: does not declare the secret STAGING_KUBECONFIG, so no caller can pass it")
    for caller in CALLERS:
        for job_id, job in workflows[caller].jobs.items():
            if job.calls == BUILD and (job.data.get("secrets") or {}).get("STAGING_KUBECONFIG") != (
                "${{ secrets.STAGING_KUBECONFIG }}"
            ):
                problems.append(f"{caller} {job_id}: does not pass STAGING_KUBECONFIG by name to {BUILD}")
    for (name, job_id), wanted in CREDENTIALS.items():
        job = workflows[name].jobs[job_id].data
        steps = job.get("steps") or []
        found = check_step(job)
        if found is None:
            problems.append(f"{name} {job_id}: no step checks its credentials before using them")
            continue
        index, step = found
        users = [i for i, s in enumerate(steps) if i != index and consumed(s) - OPTIONAL]
        if users and min(users) < index:
            problems.append(
                f"{name} {job_id}: a credential is used (step {min(users)}) before the check (step {index})"
            )
        used = set().union(*(consumed(s) for s in steps)) - OPTIONAL
        if used != set(wanted):
            problems.append(f"{name} {job_id}: consumes {sorted(used)}, the rule names {sorted(wanted)}")
        if not set(wanted) <= consumed(step):
            problems.append(f"{name} {job_id}: the check reads {sorted(consumed(step))}, not {sorted(wanted)}")
    return problems


def run_check(step: dict[str, Any], values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The check step's script as the runner runs it (bash -e), each env entry set to `values`' value."""
    env = {"PATH": os.environ["PATH"]}
    for key, value in (step.get("env") or {}).items():
        (name,) = CONTEXT.findall(str(value))
        env[key] = values[name]
    return run_as_step(step["run"], env, timeout=30)


def script_problems(step: dict[str, Any], wanted: dict[str, str]) -> list[str]:
    """What the check script does wrong: it passes an empty or blank credential, or stops on a set one,
    or its message does not name the credential and where to set it."""
    problems = []
    full = dict.fromkeys(wanted, "apiVersion: v1\nkind: Config\n")
    result = run_check(step, full)
    if result.returncode != 0 or "::error" in result.stdout:
        problems.append(f"stops although every credential is set: {result.stdout.strip()}")
    for name, where in wanted.items():
        for empty in ("", " \n\t"):
            result = run_check(step, {**full, name: empty})
            if result.returncode == 0:
                problems.append(f"{name} {empty!r}: passes")
            errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
            if not any(name in line and where in line for line in errors):
                problems.append(f"{name} {empty!r}: no error naming {name} and {where!r}: {errors}")
    result = run_check(step, dict.fromkeys(wanted, ""))
    reported = [name for name in wanted if f"title={name} is empty" in result.stdout]
    if reported != list(wanted):
        problems.append(f"all empty: reports {reported}, not every one of {list(wanted)}")
    return problems


def test_the_staging_kubeconfig_is_passed_and_every_credential_checked_first(workflows):
    assert credential_problems(workflows) == []


@pytest.mark.parametrize(("name", "job_id"), sorted(CREDENTIALS))
def test_an_empty_credential_stops_the_job_naming_it_and_where_to_set_it(workflows, name, job_id):
    found = check_step(workflows[name].jobs[job_id].data)
    assert found is not None
    assert script_problems(found[1], CREDENTIALS[(name, job_id)]) == []


def broken(workflows, name: str, change: Callable[[dict[str, Any]], None]):
    data = copy.deepcopy(workflows[name].data)
    change(data)
    return {**workflows, name: dataclasses.replace(workflows[name], data=data)}


def _staging(w: dict[str, Any]) -> dict[str, Any]:
    return w["jobs"]["staging"]


def _check(job: dict[str, Any]) -> dict[str, Any]:
    found = check_step(job)
    assert found is not None
    return found[1]


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        # As before issue 22: the callers relied on the environment's secret reaching the called job.
        (
            "build-percolate.yml",
            lambda w: w["jobs"]["build"]["secrets"].pop("STAGING_KUBECONFIG"),
            "build-percolate.yml build: does not pass STAGING_KUBECONFIG",
        ),
        (
            "build-reading.yml",
            lambda w: w["jobs"]["build"]["secrets"].update(STAGING_KUBECONFIG="${{ secrets.KUBECONFIG }}"),
            "build-reading.yml build: does not pass STAGING_KUBECONFIG",
        ),
        (
            BUILD,
            lambda w: w["on"]["workflow_call"]["secrets"].pop("STAGING_KUBECONFIG"),
            "does not declare the secret STAGING_KUBECONFIG",
        ),
        (BUILD, lambda w: _staging(w)["steps"].remove(_check(_staging(w))), "no step checks its credentials"),
        (
            BUILD,
            lambda w: _staging(w)["steps"].append(_staging(w)["steps"].pop(0)),
            "is used (step",
        ),
        (
            BUILD,
            lambda w: _staging(w)["steps"][1].setdefault("env", {}).update(TOKEN="${{ secrets.STAGING_TOKEN }}"),
            "consumes ['PULUMI_ORGANIZATION', 'STAGING_KUBECONFIG', 'STAGING_TOKEN']",
        ),
        (
            "deploy.yml",
            lambda w: _check(w["jobs"]["deploy"])["env"].pop("INFRA_GITHUB_TOKEN"),
            "the check reads ['KUBECONFIG', 'PULUMI_ORGANIZATION']",
        ),
    ],
)
def test_the_credential_check_rejects_its_controls(workflows, name, change, problem):
    problems = credential_problems(broken(workflows, name, change))
    assert any(problem in line for line in problems), problems


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        # The step as it was: the kubeconfig written whatever it held.
        (lambda script: 'printf "%s" "$STAGING_KUBECONFIG" > /dev/null\n', "STAGING_KUBECONFIG '': passes"),
        # Only the kubeconfig checked, not the organization the OIDC login needs.
        (lambda script: script.split('if [ -z "${PULUMI_ORGANIZATION')[0] + 'exit "$missing"\n', "PULUMI_"),
        # A test of the raw value lets a blank secret through.
        (lambda script: script.replace("${STAGING_KUBECONFIG//[[:space:]]/}", "$STAGING_KUBECONFIG"), "' \\n\\t'"),
    ],
)
def test_the_script_check_rejects_its_controls(workflows, change, problem):
    step = copy.deepcopy(_check(workflows[BUILD].jobs["staging"].data))
    step["run"] = change(step["run"])
    problems = script_problems(step, CREDENTIALS[(BUILD, "staging")])
    assert any(problem in line for line in problems), problems


def test_the_docs_say_which_behaviour_github_has_and_where_to_set_the_secret():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "staging.md").read_text(encoding="utf-8")
    section = docs.split("### The staging credentials", 1)[1].split("\n## ", 1)[0]
    for needed in ("actions/runner/issues/4453", "STAGING_KUBECONFIG: ${{ secrets.STAGING_KUBECONFIG }}", "staging"):
        assert needed in section
