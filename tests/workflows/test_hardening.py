"""The hardening rules of every workflow, checked on the parsed files.

Permissions are least privilege: nothing at the top, each job only what one of its
steps uses (an OIDC token where something signs, publishes or logs in by OIDC;
`packages: write` where images are written; `contents: write` where a release is
created; `pull-requests: write` where a preview is commented), and a job calling a reusable workflow
grants exactly what the called jobs declare. Every action is pinned to a commit; no credentials persist in checkouts;
no expression is expanded inside a script; nothing that publishes uses a cache.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest

from tests.workflows.stand_ins import run_as_step

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+(?:\.\d+){0,2}\b")

# What each kind of write permission is for, recognised from the steps that use it.
OIDC_ACTIONS = {
    "pypa/gh-action-pypi-publish",
    "sigstore/gh-action-sigstore-python",
    "pulumi/auth-actions",
    "actions/deploy-pages",
}
OIDC_COMMANDS = re.compile(r"\bcosign (?:sign|attest)\b|\bpython -m sigstore sign\b")
REGISTRY_WRITES = re.compile(
    r"\bskopeo copy\b|\bpython -m pipelines (?:promote|build-index|staging record)\b|\bcosign (?:sign|attest)\b"
)
RELEASE_WRITES = re.compile(r"\bgh release (?:create|upload)\b")

CACHE_ACTIONS = {"actions/cache", "Swatinem/rust-cache"}


def step_uses_oidc(step) -> bool:
    return step.action in OIDC_ACTIONS or bool(step.run and OIDC_COMMANDS.search(step.run))


def step_writes_layer_cache(step) -> bool:
    """A build that exports its layer cache to the registry (an image build's `buildcache-<arch>` tag)."""
    return step.action == "docker/build-push-action" and str(step.inputs.get("cache-to", "")).startswith(
        "type=registry,"
    )


def step_writes_registry(step) -> bool:
    return bool(step.run and REGISTRY_WRITES.search(step.run)) or step_writes_layer_cache(step)


def step_creates_release(step) -> bool:
    return bool(step.run and RELEASE_WRITES.search(step.run))


def step_deploys_pages(step) -> bool:
    return step.action == "actions/deploy-pages"


def step_comments_on_pull_request(step) -> bool:
    return step.action == "pulumi/actions" and step.inputs.get("comment-on-pr") is True


NEEDS = {
    "id-token": step_uses_oidc,
    "packages": step_writes_registry,
    "contents": step_creates_release,
    "pull-requests": step_comments_on_pull_request,
    "pages": step_deploys_pages,
}


def all_jobs(workflows):
    return [job for workflow in workflows.values() for job in workflow.jobs.values()]


def all_steps(workflows):
    return [step for workflow in workflows.values() for step in workflow.steps()]


def writes(permissions) -> set[str]:
    assert isinstance(permissions, dict), f"permissions must be a mapping, not {permissions!r}"
    return {scope for scope, level in permissions.items() if level == "write"}


def test_no_workflow_grants_anything_at_the_top(workflows):
    for workflow in workflows.values():
        assert workflow.data.get("permissions") == {}, f"{workflow.name}: start from `permissions: {{}}`"


def test_every_job_declares_its_permissions(workflows):
    for job in all_jobs(workflows):
        assert isinstance(job.permissions, dict), f"{job.label}: declare `permissions:` (`{{}}` for none)"
        assert set(job.permissions.values()) <= {"read", "write", "none"}, job.label


def test_a_write_permission_is_held_only_by_a_job_that_uses_it(workflows):
    for job in all_jobs(workflows):
        if job.calls:
            continue
        for scope in writes(job.permissions):
            uses_it = NEEDS.get(scope)
            assert uses_it is not None, f"{job.label}: {scope}: write is not a permission any of our jobs needs"
            assert any(uses_it(step) for step in job.steps), f"{job.label} holds {scope}: write but never uses it"


@pytest.mark.parametrize("scope", sorted(NEEDS))
def test_a_job_that_needs_a_write_permission_holds_it(workflows, scope):
    for job in all_jobs(workflows):
        if any(NEEDS[scope](step) for step in job.steps):
            assert job.permissions.get(scope) == "write", f"{job.label} needs {scope}: write"


def test_a_caller_grants_exactly_what_the_called_jobs_declare(workflows):
    for job in all_jobs(workflows):
        if not job.calls:
            continue
        called = workflows[job.calls]
        assert called.reusable, f"{job.label} calls {job.calls}, which is not a reusable workflow"
        needed: dict[str, str] = {}
        for called_job in called.jobs.values():
            for scope, level in called_job.permissions.items():
                if level == "write" or needed.get(scope) != "write":
                    needed[scope] = level
        assert job.permissions == needed, f"{job.label} grants {job.permissions}; {job.calls} needs {needed}"


def test_id_token_sits_only_in_signing_publishing_and_oidc_login_jobs(workflows):
    holders = {job.label for job in all_jobs(workflows) if not job.calls and "id-token" in writes(job.permissions)}
    assert holders == {
        "build-rocks.yml job publish-testpypi",
        "build-rocks.yml job staging-record",
        "release-rocks.yml job sign",
        "release-rocks.yml job publish-pypi",
        "_release-image.yml job sign",
        "infra-preview.yml job preview",
        "infra-preview.yml job preview-staging",
        "deploy.yml job deploy",
        "pages.yml job deploy",
        "_build-image.yml job staging",
    }


def test_every_action_is_pinned_to_a_full_commit_with_its_version(workflows):
    pins: dict[str, set[str]] = {}
    for workflow in workflows.values():
        lines = workflow.text.splitlines()
        for number, line in enumerate(lines, 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if not match:
                continue
            uses, rest = match.groups()
            if uses.startswith(("$/", "./")):
                continue
            assert SHA_PIN.match(uses), f"{workflow.name}:{number}: {uses} is not pinned to a full commit SHA"
            assert VERSION_COMMENT.search(rest), f"{workflow.name}:{number}: say the version in a comment (# vX.Y.Z)"
            action, sha = uses.split("@")
            pins.setdefault(action, set()).add(sha)
    assert pins, "no action found: the pattern above no longer reads the files"
    for action, shas in pins.items():
        assert len(shas) == 1, f"{action} is pinned to different commits: {sorted(shas)}"


def test_the_pin_check_reads_every_uses_line(workflows):
    """The line-based pin check above must see every `uses:` the parsed files hold."""
    for workflow in workflows.values():
        parsed = [s.uses for s in workflow.steps() if s.uses] + [
            j.data["uses"] for j in workflow.jobs.values() if j.calls
        ]
        seen = re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)", workflow.text, re.MULTILINE)
        assert sorted(parsed) == sorted(seen), workflow.name


def test_checkouts_keep_no_credentials(workflows):
    checkouts = [step for step in all_steps(workflows) if step.action == "actions/checkout"]
    assert checkouts
    for step in checkouts:
        assert step.inputs.get("persist-credentials") is False, f"{step.label}: set persist-credentials: false"


def test_no_expression_is_expanded_inside_a_script(workflows):
    scripts = [step for step in all_steps(workflows) if step.run]
    assert scripts
    for step in scripts:
        assert "${{" not in step.run, f"{step.label}: pass the value through env: instead"


def test_no_secret_is_handed_over_wholesale(workflows):
    for workflow in workflows.values():
        assert "toJSON(secrets)" not in workflow.text.replace(" ", ""), workflow.name
        for job in workflow.jobs.values():
            assert job.data.get("secrets") != "inherit", f"{job.label}: pass the secrets it needs by name"


def is_publishing(job) -> bool:
    return bool(writes(job.permissions)) or "environment" in job.data


def only_writes_its_layer_cache(job) -> bool:
    """An image build job that pushes nothing but its own layer cache: it holds `packages: write` for the
    cache tag alone, in no environment, and the image it built is pushed by another job, from the archive
    it tested (tests/workflows/test_layer_cache.py holds the rest of that rule)."""
    cache_writers = [step for step in job.steps if step_writes_layer_cache(step)]
    return (
        writes(job.permissions) == {"packages"}
        and "environment" not in job.data
        and len(cache_writers) == 1
        and cache_writers[0].inputs.get("push") is False
        and not any(step.run and REGISTRY_WRITES.search(step.run) for step in job.steps)
    )


def test_publishing_jobs_use_no_cache(workflows):
    publishing = [job for job in all_jobs(workflows) if not job.calls and is_publishing(job)]
    assert publishing
    for job in publishing:
        if only_writes_its_layer_cache(job):
            continue
        for step in job.steps:
            assert step.action not in CACHE_ACTIONS, f"{step.label}: no cache where something is published"
            for key, value in step.inputs.items():
                if "cache" in key:
                    assert str(value).lower() == "false", f"{step.label}: {key}={value!r} in a publishing job"


def test_every_job_has_a_timeout(workflows):
    for job in all_jobs(workflows):
        if job.calls:
            # A calling job cannot set one; the called workflow's jobs (checked here too) do.
            continue
        timeout = job.data.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 60, f"{job.label}: timeout-minutes {timeout!r}"


def test_runners_are_githubs(workflows):
    for job in all_jobs(workflows):
        if job.calls:
            continue
        assert job.runners, job.label
        for label in job.runners:
            assert isinstance(label, str) and "self-hosted" not in label, f"{job.label} runs on {label!r}"


def test_scripts_run_in_bash_on_windows_too(workflows):
    """PowerShell would read `"$TAG"` as its own variable: every script is written for bash."""
    for workflow in workflows.values():
        for job in workflow.jobs.values():
            if job.calls or not any(step.run for step in job.steps):
                continue
            if any("windows" in str(runner) for runner in job.runners):
                shell = (job.data.get("defaults") or workflow.data.get("defaults") or {}).get("run", {}).get("shell")
                assert shell == "bash", f"{job.label} runs scripts on Windows: set defaults.run.shell: bash"


def test_every_workflow_limits_its_concurrency(workflows):
    for workflow in workflows.values():
        if workflow.reusable:
            # The caller holds the group; the same group here too would wait for itself.
            assert "concurrency" not in workflow.data, workflow.name
        else:
            assert workflow.data.get("concurrency"), f"{workflow.name}: set a concurrency group"


def queue_problems(workflow) -> list[str]:
    """A group that must lose no run (never cancelled) queues every waiting run: by default a group
    keeps one pending run, and a newer one cancels it."""
    concurrency = workflow.data.get("concurrency") or {}
    if concurrency.get("cancel-in-progress") is False and concurrency.get("queue") != "max":
        return [
            f"{workflow.name}: cancel-in-progress is false, but without `queue: max` "
            "a newer run cancels the pending one"
        ]
    return []


def test_a_projects_builds_and_releases_run_one_at_a_time_in_order(workflows, tag_workflows):
    groups = {}
    for name, (project, _stage) in tag_workflows.items():
        concurrency = workflows[name].data["concurrency"]
        assert concurrency["cancel-in-progress"] is False, f"{name}: a release must never be cancelled half-way"
        assert concurrency["group"] == project.name, f"{name}: group by project"
        assert queue_problems(workflows[name]) == []
        groups.setdefault(project.name, set()).add(name)
    assert all(len(names) == 2 for names in groups.values()), groups


def test_deployments_never_interleave_get_cancelled_or_dropped(workflows):
    concurrency = workflows["deploy.yml"].data["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    assert "${{" not in concurrency["group"], "one group for every deploy run"
    assert queue_problems(workflows["deploy.yml"]) == []


def test_the_queue_check_rejects_a_group_without_a_queue(workflows):
    """Control: the workflows as they were (rc2 lost when rc3 is pushed while a release waits for approval)."""
    for name in ("release-percolate.yml", "deploy.yml"):
        data = copy.deepcopy(workflows[name].data)
        del data["concurrency"]["queue"]
        assert queue_problems(dataclasses.replace(workflows[name], data=data)) != []


def test_ci_on_main_runs_every_commit_and_only_pull_requests_cancel(workflows):
    concurrency = workflows["ci.yml"].data["concurrency"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    # On a push to main the group is the commit itself: no run waits behind another or is dropped.
    assert concurrency["group"] == "ci-${{ github.event_name == 'pull_request' && github.ref || github.sha }}"


def approval_problems(workflows, tag_workflows) -> list[str]:
    """In a release run, each job that writes (release tags, images, the GitHub release) is the job in
    environment production or runs after it: nothing is released before a reviewer approves."""
    from pipelines.core.tags import Stage

    problems = []
    for name, (_project, stage) in tag_workflows.items():
        if stage is not Stage.RELEASE:
            continue
        reached = list(_jobs_reached(workflows[name], workflows))
        gated = {(w.name, j.id) for w, j in reached if (j.data.get("environment") or {}).get("name") == "production"}
        for workflow, job in reached:
            if {"packages", "contents"} & writes(job.permissions) and (workflow.name, job.id) not in gated:
                before = {(workflow.name, needed) for needed in workflow.needed_by(job)}
                if not before & gated:
                    problems.append(f"{name}: {job.label} writes before a reviewer of production approves")
    return problems


def test_every_release_write_waits_for_a_reviewer_of_production(workflows, tag_workflows):
    assert approval_problems(workflows, tag_workflows) == []


def test_the_approval_check_rejects_an_image_release_without_an_environment(workflows, tag_workflows):
    """Control: _release-image.yml as it was, with no job in environment production."""
    data = copy.deepcopy(workflows["_release-image.yml"].data)
    del data["jobs"]["promote"]["environment"]
    changed = {**workflows, "_release-image.yml": dataclasses.replace(workflows["_release-image.yml"], data=data)}
    problems = approval_problems(changed, tag_workflows)
    assert "release-percolate.yml: _release-image.yml job promote writes before a reviewer of production approves" in (
        problems
    )


def _jobs_reached(workflow, workflows):
    for job in workflow.jobs.values():
        if job.calls:
            yield from _jobs_reached(workflows[job.calls], workflows)
        else:
            yield workflow, job


def test_pull_requests_opened_by_automation_use_the_token_that_starts_workflows(workflows):
    """Pull requests opened with GITHUB_TOKEN start no workflow runs, so ci would never check them."""
    openers = [
        step
        for step in all_steps(workflows)
        if step.run and re.search(r"\bgh pr create\b|\bpython -m pipelines deploy-pr\b", step.run)
    ]
    assert {step.workflow for step in openers} == {"_release-image.yml", "deploy.yml"}
    for step in openers:
        tokens = {value for key, value in step.env.items() if key in ("GH_TOKEN", "GITHUB_TOKEN", "PERCOLATE_GIT_PAT")}
        assert tokens == {"${{ secrets.PERCOLATE_GIT_PAT }}"}, step.label


def preview_problems(workflow) -> list[str]:
    """The preview gets a Pulumi token that can read the stack: never for a fork, never with a secret."""
    problems = []
    for job in workflow.jobs.values():
        if job.data.get("if") != "github.event.pull_request.head.repo.full_name == github.repository":
            problems.append(f"{job.label}: runs for pull requests from forks")
        if "environment" in job.data or "secrets." in str(job.data):
            problems.append(f"{job.label}: holds a secret or an environment")
    return problems


def test_previews_run_only_for_this_repositorys_branches_and_hold_no_secret(workflows):
    assert preview_problems(workflows["infra-preview.yml"]) == []


def test_the_preview_check_rejects_a_fork_preview_and_a_secret(workflows):
    data = copy.deepcopy(workflows["infra-preview.yml"].data)
    del data["jobs"]["preview"]["if"]
    data["jobs"]["preview"]["env"] = {"TOKEN": "${{ secrets.INFRA_GITHUB_TOKEN }}"}
    problems = preview_problems(dataclasses.replace(workflows["infra-preview.yml"], data=data))
    assert problems == [
        "infra-preview.yml job preview: runs for pull requests from forks",
        "infra-preview.yml job preview: holds a secret or an environment",
    ]


# -- issue 12, item 2: a hung health gate still leads to a verdict, and so to the rollback -------------------------

HEALTH_GATES = ("percolate-api", "percolate-reading")


def deploy_step(workflows, step_id: str):
    found = [step for step in workflows["deploy.yml"].steps() if step.data.get("id") == step_id]
    assert len(found) == 1, f"deploy.yml has {len(found)} steps with id {step_id}"
    return found[0]


@pytest.mark.parametrize("app", HEALTH_GATES)
@pytest.mark.parametrize(
    ("gate", "code", "outcome"),
    [
        ("exec sleep 60", 124, "timeout"),  # hung past its own --timeout: stopped, counted as timed out
        ('echo outcome=failed >> "$GITHUB_OUTPUT"; exit 1', 1, "failed"),
        ('echo outcome=healthy >> "$GITHUB_OUTPUT"', 0, "healthy"),
        ("exit 1", 1, None),  # could not read the Application: no verdict, nothing rolled back
    ],
    ids=["hung", "failed", "healthy", "no-verdict"],
)
def test_a_health_gate_that_hangs_is_stopped_and_counts_as_timed_out(workflows, tmp_path, app, gate, code, outcome):
    import os
    import time

    step = deploy_step(workflows, f"gate-{app}")
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/bash\n{gate}\n")
    fake.chmod(0o755)
    output = tmp_path / "output"
    output.touch()
    env = {
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "IMAGE": "ghcr.io/percolation-labs/percolate@sha256:" + "1a" * 32,
        "GATE_LIMIT": "1",  # 660 in the workflow
    }
    started = time.monotonic()
    # As GitHub runs a bash step.
    result = run_as_step(step.data["run"], env)
    assert time.monotonic() - started < 30
    assert result.returncode == code, result.stderr
    written = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert written.get("outcome") == outcome
    own = int(re.search(r"--timeout (\d+)", step.data["run"]).group(1))  # 600; 1500 for a canary
    assert step.data["env"]["GATE_LIMIT"] == str(own + 60)  # 60 s beyond the gate's own --timeout


@pytest.mark.parametrize("app", HEALTH_GATES)
def test_the_in_step_limit_of_a_gate_ends_before_the_step_and_job_limits(workflows, app):
    gate = deploy_step(workflows, f"gate-{app}")
    job_minutes = workflows["deploy.yml"].jobs[gate.job_id].data["timeout-minutes"]
    # GATE_LIMIT s, then SIGKILL 30 s later: the verdict is written before the runner's backstop could stop the step.
    assert 'timeout --kill-after=30 "$GATE_LIMIT" python -m pipelines wait-healthy' in gate.data["run"]
    assert (int(gate.data["env"]["GATE_LIMIT"]) + 30) / 60 < gate.data["timeout-minutes"] < job_minutes
    assert gate.data["continue-on-error"] is True
