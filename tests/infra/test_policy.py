"""Policy checks: they pass on the committed prod stack and fail, naming the problem, on bad configs."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from infra import policy
from infra.argocd import UNRELEASED, UNRELEASED_ANNOTATION
from infra.render import SECRET_MASK, offline_answers, read_stack_file, run_program
from pipelines.wheels.trusted_publishers import WorkflowFiles, job_check_names

REPO_ROOT = Path(__file__).resolve().parents[2]
NS = "percolate-platform"


@pytest.fixture
def resources(config, render):
    return list(render(config).resources)


def _replace(resources, type_, name, change):
    out = []
    for resource in resources:
        if resource.type == type_ and resource.name == name:
            inputs = copy.deepcopy(resource.inputs)
            change(inputs)
            out.append(dataclasses.replace(resource, inputs=inputs))
        else:
            out.append(resource)
    return out


def test_the_committed_prod_stack_passes_every_policy():
    config = read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    rendering = run_program(config, offline_answers(config))
    report = policy.evaluate(rendering.resources, WorkflowFiles(REPO_ROOT / ".github/workflows").all())
    assert report.to_dict()["checks"] == [
        {"name": name, "ok": True, "problems": []}
        for name in [p.__name__ for p in policy.POLICIES] + ["required_checks_exist", "workflow_actions_allowed"]
    ]
    assert report.ok


def _workflows(tmp_path: Path, text: str):
    _workflow(tmp_path / "wf", "ci.yml", text)
    return WorkflowFiles(tmp_path / "wf").all()


CI = """on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1
      - uses: docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a
      - uses: ./.github/actions/setup
  reuse:
    uses: ./.github/workflows/_build-image.yml
  reuse-self:
    uses: $/.github/workflows/_release-image.yml
"""


def test_a_valid_config_passes_every_policy(resources, tmp_path):
    assert policy.evaluate(resources, _workflows(tmp_path, CI)).ok


def test_an_unreleased_image_passes_the_pinning_policy_as_marked(config, render):
    config[f"{NS}:images"]["percolate-reading"] = {"repository": "ghcr.io/percolation-labs/percolate-reading"}
    resources = render(config).resources
    assert policy.images_pinned_by_digest(resources) == []
    [reading] = [r for r in resources if r.name == "argocd-percolate-reading"]
    assert reading.inputs["metadata"]["annotations"] == {UNRELEASED_ANNOTATION: UNRELEASED}
    assert "kustomize" not in reading.inputs["spec"]["source"]


def test_a_released_image_whose_override_is_lost_fails_the_pinning_policy(resources):
    [api] = [r for r in resources if r.name == "argocd-percolate-api"]
    source = {k: v for k, v in api.inputs["spec"]["source"].items() if k != "kustomize"}
    lost = dataclasses.replace(api, inputs={**api.inputs, "spec": {**api.inputs["spec"], "source": source}})
    assert policy.images_pinned_by_digest([lost]) == [
        "Application argocd-percolate-api: no image override; it deploys whatever tag its manifests name"
    ]
    marked = {**api.inputs["metadata"], "annotations": {UNRELEASED_ANNOTATION: UNRELEASED}}
    contradicting = dataclasses.replace(api, inputs={**api.inputs, "metadata": marked})
    assert policy.images_pinned_by_digest([contradicting]) == [
        "Application argocd-percolate-api: marked unreleased, yet it overrides its image"
    ]


def test_a_required_check_that_is_no_job_fails(config, render, tmp_path):
    config[f"{NS}:requiredChecks"] = ["test", "lint"]
    report = policy.evaluate(render(config).resources, _workflows(tmp_path, CI))
    assert not report.ok
    [failed] = [c for c in report.to_dict()["checks"] if not c["ok"]]
    assert failed["name"] == "required_checks_exist"
    assert "'lint' is no job name" in failed["problems"][0]
    assert "FAILED required_checks_exist" in "\n".join(report.describe())


SECRET = "github:index/actionsSecret:ActionsSecret"


def test_a_plain_text_secret_value_fails(resources):
    spoiled = [dataclasses.replace(r, secrets=()) if r.type == SECRET else r for r in resources]
    assert policy.no_plaintext_secrets(spoiled) == [
        f"{SECRET} secrets-percolate-git-pat: value is plain text, not a Pulumi secret"
    ]


def test_a_token_in_any_input_fails(resources):
    token = "ghp_" + "x" * 36
    spoiled = _replace(
        resources, "github:index/repository:Repository", "repository", lambda i: i.update(description=f"use {token}")
    )
    assert policy.no_plaintext_secrets(spoiled) == [
        "github:index/repository:Repository repository: description holds a token in plain text"
    ]


def test_a_masked_secret_is_not_mistaken_for_plain_text(resources):
    [secret] = [r for r in resources if r.type == SECRET]
    assert secret.inputs["value"] == SECRET_MASK
    assert policy.no_plaintext_secrets(resources) == []


@pytest.mark.parametrize(
    ("check", "type_", "name", "change", "problem"),
    [
        (
            policy.admins_included_on_main,
            policy.BRANCH_PROTECTION,
            "main-branch",
            lambda i: i.update(enforceAdmins=False),
            "administrators are not included",
        ),
        (
            policy.admins_included_on_main,
            policy.BRANCH_PROTECTION,
            "main-branch",
            lambda i: i.update(requiredPullRequestReviews=[{"requiredApprovingReviewCount": 0}]),
            "no approving review",
        ),
        (
            policy.admins_included_on_main,
            policy.BRANCH_PROTECTION,
            "main-branch",
            lambda i: i.update(pattern="master"),
            "no branch protection on main",
        ),
        (
            policy.production_reviewed_without_bypass,
            policy.ENVIRONMENT,
            "environments-production",
            lambda i: i.update(reviewers=[{"users": [], "teams": []}]),
            "no required reviewers",
        ),
        (
            policy.production_reviewed_without_bypass,
            policy.ENVIRONMENT,
            "environments-production",
            lambda i: i.update(canAdminsBypass=True),
            "administrators may bypass",
        ),
        (
            policy.production_reviewed_without_bypass,
            policy.ENVIRONMENT,
            "environments-production",
            lambda i: i.pop("preventSelfReview"),
            "may approve it",
        ),
        (
            policy.release_tags_protected,
            policy.RULESET,
            "release-tags-create",
            lambda i: i.pop("bypassActors"),
            "only named release managers create",
        ),
        (
            policy.release_tags_protected,
            policy.RULESET,
            "release-tags-immutable",
            lambda i: i.update(enforcement="disabled"),
            "forbids updating and deleting",
        ),
        (
            policy.release_tags_protected,
            policy.RULESET,
            "release-tags-immutable",
            lambda i: i.update(bypassActors=[{"actorType": "Team"}]),
            "someone may bypass the ban",
        ),
        (
            policy.fork_pr_workflows_off,
            policy.FORK_PULL_REQUESTS,
            "actions-fork-pull-requests",
            lambda i: i.update(approval_policy="first_time_contributors"),
            "not all_external_contributors",
        ),
        (
            policy.fork_pr_workflows_off,
            policy.FORK_PULL_REQUESTS,
            "actions-fork-pull-requests",
            lambda i: i.update(private=True, run_workflows_from_fork_pull_requests=True),
            "run_workflows_from_fork_pull_requests is not false",
        ),
        (
            policy.images_pinned_by_digest,
            policy.APPLICATION,
            "argocd-percolate-api",
            lambda i: i["spec"]["source"].update(kustomize={"images": ["ghcr.io/percolation-labs/percolate:0.1.0"]}),
            "is not pinned by digest",
        ),
    ],
)
def test_each_policy_fails_on_a_deliberately_bad_resource(resources, check, type_, name, change, problem):
    spoiled = _replace(resources, type_, name, change)
    problems = check(spoiled)
    assert problems and problem in problems[0]
    assert check(resources) == []


def test_missing_resources_fail_their_policies():
    for check in policy.POLICIES:
        if check is policy.no_plaintext_secrets:
            assert check([]) == []
        else:
            assert check([]), check.__name__


def _workflow(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def test_required_checks_rule_on_fixture_workflows(tmp_path, resources):
    folder = tmp_path / "workflows"
    _workflow(
        folder,
        "ci.yml",
        "on: push\njobs:\n  test:\n    name: test\n    runs-on: ubuntu-latest\n    steps: [{run: make test}]\n",
    )
    assert policy.required_checks_exist(resources, job_check_names(WorkflowFiles(folder).all())) == []
    _workflow(
        folder,
        "ci.yml",
        "on: push\njobs:\n  test:\n    name: unit tests\n    runs-on: ubuntu-latest\n    steps: [{run: make test}]\n",
    )
    assert (
        "'test' is no job name"
        in policy.required_checks_exist(resources, job_check_names(WorkflowFiles(folder).all()))[0]
    )
    _workflow(folder, "ci.yml", "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps: [{run: make test}]\n")
    assert policy.required_checks_exist(resources, job_check_names(WorkflowFiles(folder).all())) == []


def test_every_required_check_in_the_prod_stack_is_a_job_of_our_workflows():
    config = read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    rendering = run_program(config, offline_answers(config))
    names = job_check_names(WorkflowFiles(REPO_ROOT / ".github/workflows").all())
    assert rendering.outputs["requiredChecks"]
    assert set(rendering.outputs["requiredChecks"]) <= names
    assert policy.required_checks_exist(rendering.resources, names) == []


def test_an_action_outside_the_allow_list_fails(resources, tmp_path):
    workflows = _workflows(tmp_path, CI.replace("docker/build-push-action", "evil/exfiltrate"))
    assert policy.workflow_actions_allowed(resources, workflows) == [
        "ci.yml job test: evil/exfiltrate is not in the allowed actions"
    ]
    assert policy.workflow_actions_allowed(resources, _workflows(tmp_path, CI)) == []


def test_every_action_our_workflows_use_is_allowed_in_the_prod_stack():
    config = read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    rendering = run_program(config, offline_answers(config))
    workflows = WorkflowFiles(REPO_ROOT / ".github/workflows").all()
    assert workflows
    assert policy.workflow_actions_allowed(rendering.resources, workflows) == []
