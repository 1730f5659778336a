"""Release notes and notifications in the workflows, read as GitHub runs them (issue 15).

- every GitHub release's body is `changelog` (never `--generate-notes`, which spans every project), made
  in a job whose checkout has the whole history and the tags, checked out before the notes are made;
- every tag workflow tells the team: its success event (rc-built, released) after its last job, and
  `failed` from a job that runs on failure and waits for every other job of the workflow;
- deploy.yml tells deployed, rolled-back and failed in a last step that runs whatever happened;
- the webhook URLs reach only the jobs that send, through `env` of the sending step or a `secrets:`
  pass-through to `_notify.yml`, whose job holds nothing but `contents: read`.
Each check is run on the workflows and on a broken copy (its control), which it must reject.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.workflows.conftest import load_workflows

NOTIFY = "_notify.yml"
WEBHOOKS = ("SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL")
CHECKOUT = "actions/checkout"
SUCCESS_EVENT = {"build": "rc-built", "release": "released"}
TAG_WORKFLOWS = {
    "build-rocks.yml": "build",
    "release-rocks.yml": "release",
    "_build-image.yml": "build",
    "_release-image.yml": "release",
}
Data = Mapping[str, Mapping[str, Any]]


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return {name: workflow.data for name, workflow in load_workflows().items()}


def jobs(workflow: Mapping[str, Any]) -> dict[str, Any]:
    return dict(workflow.get("jobs") or {})


def release_problems(workflows: Data) -> list[str]:
    problems = []
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            steps = job.get("steps") or []
            for index, step in enumerate(steps):
                script = step.get("run") or ""
                if "--generate-notes" in script:
                    problems.append(f"{name} {job_id}: --generate-notes spans every project's commits")
                if "gh release create" not in script:
                    continue
                notes = re.search(r"--notes-file (\S+)", script)
                if notes is None or not re.search(
                    rf"python -m pipelines changelog \"\$TAG\".*> {notes.group(1)}", script
                ):
                    problems.append(f"{name} {job_id}: the release body is not `changelog`")
                checkouts = [s for s in steps[:index] if str(s.get("uses", "")).startswith(CHECKOUT)]
                if not any(str((s.get("with") or {}).get("fetch-depth")) == "0" for s in checkouts):
                    problems.append(f"{name} {job_id}: no checkout with fetch-depth: 0 before the notes")
    return problems


def notify_jobs(workflow: Mapping[str, Any]) -> dict[str, Any]:
    return {i: j for i, j in jobs(workflow).items() if str(j.get("uses", "")).endswith(f"/{NOTIFY}")}


def notification_problems(workflows: Data) -> list[str]:
    problems = []
    for name, stage in TAG_WORKFLOWS.items():
        workflow = workflows[name]
        senders = notify_jobs(workflow)
        others = set(jobs(workflow)) - set(senders)
        events = {(j.get("with") or {}).get("event"): (i, j) for i, j in senders.items()}
        success = events.get(SUCCESS_EVENT[stage])
        if success is None:
            problems.append(f"{name}: no {SUCCESS_EVENT[stage]} notification")
        failed = events.get("failed")
        if failed is None:
            problems.append(f"{name}: no failed notification")
            continue
        job_id, job = failed
        needs = set(job.get("needs") or [])
        if job.get("if") != "failure()":
            problems.append(f"{name} {job_id}: runs on `{job.get('if')}`, not failure()")
        if needs != others:
            problems.append(f"{name} {job_id}: waits for {sorted(needs)}, not every job {sorted(others)}")
        if (job.get("with") or {}).get("needs") != "${{ toJSON(needs) }}":
            problems.append(f"{name} {job_id}: does not hand over which jobs failed")
    if jobs(workflows[NOTIFY])["notify"].get("continue-on-error") is not True:
        problems.append(f"{NOTIFY}: a failing notify job would fail the release's run")
    for caller in ("build-reading.yml", "build-percolate.yml", "release-reading.yml", "release-percolate.yml"):
        for job_id, job in jobs(workflows[caller]).items():
            if not str(job.get("uses", "")).endswith(("/_build-image.yml", "/_release-image.yml")):
                continue  # the dashboard's rebuild sends nothing
            handed = job.get("secrets") or {}
            for secret in WEBHOOKS:
                if handed.get(secret) != f"${{{{ secrets.{secret} }}}}":
                    problems.append(f"{caller} {job_id}: does not hand {secret} to the shared workflow")
    return problems


def deploy_problems(workflows: Data) -> list[str]:
    steps = jobs(workflows["deploy.yml"])["deploy"]["steps"]
    last = steps[-1]
    script = last.get("run") or ""
    problems = []
    if last.get("if") != "always()":
        problems.append("deploy.yml: the notification step does not run whatever happened")
    if last.get("continue-on-error") is not True:
        problems.append("deploy.yml: a failing notification step would fail the deployment")
    for event in ("deployed", "rolled-back", "failed"):
        if f"python -m pipelines notify {event} " not in script:
            problems.append(f"deploy.yml: never sends {event}")
    return problems


def secret_problems(workflows: Data) -> list[str]:
    """Where the webhook URLs may go: a sending step's env, a pass-through, the reusable workflow's declaration."""
    problems = []
    for name, workflow in workflows.items():
        for job_id, job in jobs(workflow).items():
            for key, value in (job.get("env") or {}).items():
                if any(secret in str(value) for secret in WEBHOOKS):
                    problems.append(f"{name} {job_id}: {key} puts a webhook into every step of the job")
            for step in job.get("steps") or []:
                env = step.get("env") or {}
                holds = [k for k, v in env.items() if any(secret in str(v) for secret in WEBHOOKS)]
                if holds and "python -m pipelines notify" not in str(step.get("run", "")):
                    problems.append(f"{name} {job_id}: a step that sends nothing holds {holds}")
                if any(secret in str(step.get("with") or {}) for secret in WEBHOOKS):
                    problems.append(f"{name} {job_id}: a webhook handed to an action")
    notify_job = jobs(workflows[NOTIFY])["notify"]
    if notify_job.get("permissions") != {"contents": "read"}:
        problems.append(f"{NOTIFY}: the job that holds the webhooks holds {notify_job.get('permissions')}")
    return problems


CHECKS: dict[str, Callable[[Data], list[str]]] = {
    "release": release_problems,
    "notification": notification_problems,
    "deploy": deploy_problems,
    "secret": secret_problems,
}


@pytest.mark.parametrize("check", sorted(CHECKS))
def test_the_workflows_hold_the_rule(data, check):
    assert CHECKS[check](data) == []


def _release_job(d: dict[str, Any]) -> dict[str, Any]:
    return d["release-rocks.yml"]["jobs"]["github-release"]


def generate_notes(d: dict[str, Any]) -> None:
    step = _release_job(d)["steps"][-1]
    step["run"] = step["run"].replace("promoted.json\n", "promoted.json --generate-notes\n")


def shallow_checkout(d: dict[str, Any]) -> None:
    d["_release-image.yml"]["jobs"]["github-release"]["steps"][0]["with"].pop("fetch-depth")


def plan_as_body(d: dict[str, Any]) -> None:
    step = d["build-rocks.yml"]["jobs"]["metadata"]["steps"][-1]
    step["run"] = step["run"].replace("--notes-file notes.md", "--notes-file plan.txt")


def no_failure_job(d: dict[str, Any]) -> None:
    del d["_build-image.yml"]["jobs"]["notify-failed"]


def failure_waits_for_too_little(d: dict[str, Any]) -> None:
    d["release-rocks.yml"]["jobs"]["notify-failed"]["needs"] = ["plan", "publish-pypi"]


def failure_on_always(d: dict[str, Any]) -> None:
    d["_release-image.yml"]["jobs"]["notify-failed"]["if"] = "always()"


def caller_forgets_a_secret(d: dict[str, Any]) -> None:
    del d["build-reading.yml"]["jobs"]["build"]["secrets"]["DISCORD_WEBHOOK_URL"]


def deploy_never_rolls_back(d: dict[str, Any]) -> None:
    step = d["deploy.yml"]["jobs"]["deploy"]["steps"][-1]
    step["run"] = step["run"].replace("notify rolled-back ", "notify failed ")


def deploy_only_on_success(d: dict[str, Any]) -> None:
    d["deploy.yml"]["jobs"]["deploy"]["steps"][-1]["if"] = "success()"


def notify_step_can_fail_the_deploy(d: dict[str, Any]) -> None:
    del d["deploy.yml"]["jobs"]["deploy"]["steps"][-1]["continue-on-error"]


def notify_job_can_fail_the_run(d: dict[str, Any]) -> None:
    del d[NOTIFY]["jobs"]["notify"]["continue-on-error"]


def webhook_in_job_env(d: dict[str, Any]) -> None:
    d["deploy.yml"]["jobs"]["deploy"]["env"]["SLACK_WEBHOOK_URL"] = "${{ secrets.SLACK_WEBHOOK_URL }}"


def notify_job_writes(d: dict[str, Any]) -> None:
    d[NOTIFY]["jobs"]["notify"]["permissions"] = {"contents": "write"}


@pytest.mark.parametrize(
    ("check", "change", "problem"),
    [
        ("release", generate_notes, "release-rocks.yml github-release: --generate-notes"),
        ("release", shallow_checkout, "_release-image.yml github-release: no checkout with fetch-depth: 0"),
        ("release", plan_as_body, "build-rocks.yml metadata: the release body is not `changelog`"),
        ("notification", no_failure_job, "_build-image.yml: no failed notification"),
        ("notification", failure_waits_for_too_little, "release-rocks.yml notify-failed: waits for"),
        ("notification", failure_on_always, "_release-image.yml notify-failed: runs on `always()`"),
        ("notification", caller_forgets_a_secret, "build-reading.yml build: does not hand DISCORD_WEBHOOK_URL"),
        ("deploy", deploy_never_rolls_back, "deploy.yml: never sends rolled-back"),
        ("deploy", deploy_only_on_success, "deploy.yml: the notification step does not run whatever happened"),
        ("deploy", notify_step_can_fail_the_deploy, "deploy.yml: a failing notification step would fail"),
        ("notification", notify_job_can_fail_the_run, "_notify.yml: a failing notify job would fail the release's run"),
        ("secret", webhook_in_job_env, "deploy.yml deploy: SLACK_WEBHOOK_URL puts a webhook into every step"),
        ("secret", notify_job_writes, "_notify.yml: the job that holds the webhooks holds {'contents': 'write'}"),
    ],
)
def test_each_check_rejects_its_control(data, check, change, problem):
    broken = copy.deepcopy(data)
    change(broken)
    found = CHECKS[check](broken)
    assert any(line.startswith(problem) for line in found), found
