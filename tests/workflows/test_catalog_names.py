"""The names in the workflow YAML against the catalog, the one source of every name.

Project names, image repositories, platforms, wheel targets, Argo CD applications,
GitHub environments and the Pulumi stack are spelt in YAML by hand (GitHub reads
no Python); these tests make every such spelling agree with `pipelines.core.catalog`.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest

from infra.pages import PAGES_ENVIRONMENT
from pipelines.core.catalog import (
    DEFAULT_REGISTRY,
    PRODUCTION_ENVIRONMENT,
    PROJECTS,
    PULUMI_PROJECT,
    PULUMI_STACK,
    PYPI,
    STAGING_ENVIRONMENT,
    TESTPYPI,
    image_projects,
    project_for_application,
)
from pipelines.core.tags import Stage
from pipelines.wheels.trusted_publishers import expected_publishers

PUBLISH_ACTION = "pypa/gh-action-pypi-publish"


def allowed_names() -> set[str]:
    names = {PULUMI_PROJECT}
    for project in PROJECTS:
        names |= {project.name, f"{project.name}-v", project.directory}
        names |= {n for n in (project.image_name, project.argocd_application, project.distribution) if n}
        if project.distribution:
            names.add(re.sub(r"[-_.]+", "_", project.distribution))
    return names


def test_every_percolate_name_in_the_yaml_is_a_catalog_name(workflows, github_dir):
    allowed = allowed_names()
    texts = {w.name: w.text for w in workflows.values()} | {
        "dependabot.yml": (github_dir / "dependabot.yml").read_text()
    }
    seen = set()
    for name, text in texts.items():
        for token in re.findall(r"(?<![\w-])percolate(?:[-_][a-z]+)*", text):
            assert token in allowed, f"{name}: {token!r} is no catalog name ({sorted(allowed)})"
            seen.add(token)
    assert {p.name for p in PROJECTS} <= seen, "every project appears in the workflows"


def test_registry_references_are_the_catalogs(workflows):
    allowed = {DEFAULT_REGISTRY} | {p.image_repository() for p in image_projects()}
    for workflow in workflows.values():
        for reference in re.findall(r"ghcr\.io[\w./-]*", workflow.text):
            assert reference.rstrip("/.") in allowed, f"{workflow.name}: {reference}"


def callers_of(workflows, called: str) -> dict[str, str]:
    """Workflow name -> the project it passes to the reusable workflow `called`."""
    return {
        w.name: job.data["with"]["project"]
        for w in workflows.values()
        for job in w.jobs.values()
        if job.calls == called
    }


@pytest.mark.parametrize("stage", list(Stage))
def test_each_image_project_calls_the_shared_workflow_with_its_own_name(workflows, tag_workflows, stage):
    callers = callers_of(workflows, f"_{stage.value}-image.yml")
    expected = {
        name: project.name for name, (project, s) in tag_workflows.items() if s is stage and project.ships_images
    }
    assert callers == expected
    assert set(expected.values()) == {p.name for p in image_projects()}


def test_the_image_build_context_is_the_projects_folder(workflows):
    build = workflows["_build-image.yml"].jobs["build"]
    step = next(s for s in build.steps if s.action == "docker/build-push-action")
    assert step.inputs["context"] == "${{ inputs.project }}"
    for project in image_projects():
        assert project.directory == project.name, "the shared build uses the project name as its folder"


def test_image_platforms_are_the_catalogs(workflows):
    platforms = {project.platforms for project in image_projects()}
    assert len(platforms) == 1, "the shared image workflow builds one set of platforms"
    (expected,) = platforms
    jobs = workflows["_build-image.yml"].jobs
    for job_id in ("build", "push"):
        assert tuple(jobs[job_id].matrix_values("arch")) == expected, job_id
    build = next(s for s in jobs["build"].steps if s.action == "docker/build-push-action")
    assert build.inputs["platforms"] == "linux/${{ matrix.arch }}"


def test_wheel_targets_are_the_catalogs(workflows):
    (rocks,) = [p for p in PROJECTS if p.ships_wheels]
    targets = [t.name for t in rocks.wheel_targets]
    jobs = workflows["build-rocks.yml"].jobs
    assert jobs["wheels"].matrix_values("target") == targets
    assert jobs["wheels"].matrix_values("runner") == [t.build_runner for t in rocks.wheel_targets]
    assert jobs["test-wheels"].matrix_values("target") == targets


def test_every_argo_cd_application_is_gated_and_rolled_back_as_its_project(workflows):
    steps = list(workflows["deploy.yml"].steps())
    applications = {p.argocd_application for p in image_projects()}
    gates = {s.data["id"].removeprefix("gate-"): s for s in steps if s.data.get("id", "").startswith("gate-")}
    assert set(gates) == applications
    for application, gate in gates.items():
        assert re.search(rf"pipelines wait-healthy {application} ", gate.run), gate.label
        assert f"['{application}']" in gate.data["if"] and gate.data["continue-on-error"] is True
        project = project_for_application(application).name
        rollbacks = [s for s in steps if s.run and re.search(rf"pipelines rollback {project} ", s.run)]
        assert len(rollbacks) == 1, f"one rollback of {project}"
        assert (
            rollbacks[0].data["if"]
            == f'contains(fromJSON(\'["failed", "timeout"]\'), steps.gate-{application}.outputs.outcome)'
        )


def test_publishing_runs_in_the_catalogs_environments(workflows):
    environments = {
        ("build-rocks.yml", "publish-testpypi"): STAGING_ENVIRONMENT,
        ("release-rocks.yml", "publish-pypi"): PRODUCTION_ENVIRONMENT,
        # An image release writes its release tags only after a reviewer of production approves.
        ("_release-image.yml", "promote"): PRODUCTION_ENVIRONMENT,
        ("deploy.yml", "deploy"): PRODUCTION_ENVIRONMENT,
        ("pages.yml", "deploy"): PAGES_ENVIRONMENT,
        # Every RC build of an image deploys to the staging stack, RC tags only.
        ("_build-image.yml", "staging"): STAGING_ENVIRONMENT,
        # preflight reads with production's credentials (INFRA_GITHUB_TOKEN, KUBECONFIG) and writes nothing.
        ("preflight.yml", "preflight"): PRODUCTION_ENVIRONMENT,
    }
    found = {}
    for workflow in workflows.values():
        for job in workflow.jobs.values():
            if "environment" in job.data:
                environment = job.data["environment"]
                found[(workflow.name, job.id)] = environment["name"] if isinstance(environment, dict) else environment
    assert found == environments


def test_trusted_publishing_jobs(workflows, tag_workflows):
    """Trusted publishers name the file and environment; the publish job must sit right there."""
    (rocks,) = [p for p in PROJECTS if p.ships_wheels]
    expected = {
        ("build-rocks.yml", "publish-testpypi"): TESTPYPI.upload_url,
        ("release-rocks.yml", "publish-pypi"): None,
    }
    publishers = {
        (step.workflow, step.job_id): step
        for w in workflows.values()
        for step in w.steps()
        if step.action == PUBLISH_ACTION
    }
    assert set(publishers) == set(expected)
    for (name, job_id), step in publishers.items():
        assert tag_workflows[name][0] == rocks
        assert step.inputs.get("repository-url") == expected[(name, job_id)]
        assert "password" not in step.inputs, f"{step.label}: trusted publishing, no token"
        assert step.inputs.get("attestations") is True
        job = workflows[name].jobs[job_id]
        # Besides the OIDC token, read access only to check out the CLI that compares the files with the index.
        compares = any("python -m pipelines wheels check-unpublished" in (s.run or "") for s in job.steps)
        wanted = {"id-token": "write", **({"contents": "read"} if compares else {})}
        assert job.permissions == wanted, f"{job.label}: the OIDC token and nothing else"
        others = [j.id for j in workflows[name].jobs.values() if j.id != job_id and "id-token" in (j.permissions or {})]
        assert all("environment" not in workflows[name].jobs[o].data for o in others)


def test_the_trusted_publishers_infra_declares_are_the_workflows_publish_jobs(workflows):
    """PyPI checks each upload's OIDC claims against the tuple infra exports: file, environment, index."""
    publishers = expected_publishers("percolation-labs", "percolate")
    assert publishers
    for publisher in publishers:
        workflow = workflows[publisher.workflow]
        (job,) = [job for job in workflow.jobs.values() if any(s.action == PUBLISH_ACTION for s in job.steps)]
        assert job.data["environment"]["name"] == publisher.environment, job.label
        (step,) = [s for s in job.steps if s.action == PUBLISH_ACTION]
        assert step.inputs.get("repository-url", PYPI.upload_url) == publisher.index.upload_url, step.label
        assert publisher.project == next(p.distribution for p in PROJECTS if p.ships_wheels)


def test_pulumi_runs_the_catalogs_stack_from_the_repository_root(workflows, repo_root, yaml_loader):
    runs = [s for w in workflows.values() for s in w.steps() if s.action == "pulumi/actions"]
    for step in runs:
        assert step.inputs["work-dir"] == "."
    # Pull requests preview both stacks; merges to main apply prod; RC builds apply staging, never prod.
    assert {(s.workflow, s.inputs["command"], s.inputs["stack-name"]) for s in runs} == {
        ("infra-preview.yml", "preview", PULUMI_STACK),
        ("infra-preview.yml", "preview", "staging"),
        ("deploy.yml", "up", PULUMI_STACK),
        ("_build-image.yml", "up", "staging"),
    }
    pulumi_yaml = yaml_loader(repo_root / "Pulumi.yaml")
    assert pulumi_yaml["name"] == PULUMI_PROJECT
    assert pulumi_yaml["main"].rstrip("/") == "infra"


def unpreviewed_stacks(workflow, repo_root) -> set[str]:
    """The stacks (a `Pulumi.<stack>.yaml` each) that pull requests get no `pulumi preview` of."""
    stacks = {path.name.split(".")[1] for path in repo_root.glob("Pulumi.*.yaml")}
    previewed = {
        step.inputs["stack-name"]
        for step in workflow.steps()
        if step.action == "pulumi/actions" and step.inputs["command"] == "preview"
    }
    return stacks - previewed


def test_every_stack_is_previewed_on_pull_requests(workflows, repo_root):
    assert unpreviewed_stacks(workflows["infra-preview.yml"], repo_root) == set()
    without_staging = copy.deepcopy(workflows["infra-preview.yml"].data)
    del without_staging["jobs"]["preview-staging"]
    control = dataclasses.replace(workflows["infra-preview.yml"], data=without_staging)
    assert unpreviewed_stacks(control, repo_root) == {"staging"}


def test_only_the_staging_preview_reads_the_registry(workflows):
    jobs = workflows["infra-preview.yml"].jobs
    # The staging program pins its Applications to the newest RC builds it finds; prod's pins are in its file.
    assert jobs["preview-staging"].permissions.get("packages") == "read"
    assert "packages" not in jobs["preview"].permissions


def test_preview_and_deploy_watch_the_same_paths(workflows, repo_root):
    preview = workflows["infra-preview.yml"].triggers["pull_request"]["paths"]
    deploy = workflows["deploy.yml"].triggers["push"]["paths"]
    assert preview == deploy
    assert {"infra/**", "Pulumi*.yaml"} <= set(preview)
    for pattern in preview:
        assert list(repo_root.glob(pattern.replace("**", "*"))), f"{pattern} matches no file"
