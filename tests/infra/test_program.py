"""The Pulumi program under Pulumi's mocks: one test per component, asserting the inputs it declares."""

from __future__ import annotations

import pytest

from infra.render import SECRET_MASK
from pipelines.core.errors import CheckFailed, InputError

NS = "percolate-platform"
REPOSITORY = "github:index/repository:Repository"


def _children(rendering, component_type, name):
    return [r for r in rendering.resources if r.parent == f"{component_type}::{name}"]


def test_every_github_resource_uses_the_provider_configured_for_the_owner(config, render):
    rendering = render(config)
    provider = rendering.named("pulumi:providers:github", "github")
    assert provider.inputs["owner"] == "percolation-labs"
    github = [r for r in rendering.resources if r.type.startswith("github:index/")]
    assert len(github) >= 15
    assert {r.provider for r in github} == {"pulumi:providers:github::github"}


def test_repository_settings(config, render):
    rendering = render(config)
    children = _children(rendering, "percolate:github:RepositorySettings", "repository")
    repository = next(r for r in children if r.type == REPOSITORY)
    assert repository.inputs == repository.inputs | {
        "name": "percolate",
        "visibility": "public",
        "allowMergeCommit": False,
        "allowRebaseMerge": False,
        "allowSquashMerge": True,
        "deleteBranchOnMerge": True,
        "vulnerabilityAlerts": True,
        "archiveOnDestroy": True,
    }
    assert repository.inputs["securityAndAnalysis"] == {
        "secretScanning": {"status": "enabled"},
        "secretScanningPushProtection": {"status": "enabled"},
    }
    updates = next(
        r
        for r in children
        if r.type == "github:index/repositoryDependabotSecurityUpdates:RepositoryDependabotSecurityUpdates"
    )
    assert updates.inputs == {"repository": "percolate", "enabled": True}


def test_a_private_repository_gets_advanced_security_and_private_fork_settings(config, render):
    config[f"{NS}:repository"]["visibility"] = "private"
    rendering = render(config)
    repository = rendering.named(REPOSITORY, "repository")
    assert repository.inputs["securityAndAnalysis"]["advancedSecurity"] == {"status": "enabled"}
    fork = rendering.named("pulumi-python:dynamic/github:ForkPullRequestSettings", "actions-fork-pull-requests")
    assert fork.inputs == {
        "api_url": "https://api.github.com",
        "owner": "percolation-labs",
        "repository": "percolate",
        "private": True,
        "run_workflows_from_fork_pull_requests": False,
        "send_write_tokens_to_workflows": False,
        "send_secrets_and_variables": False,
        "require_approval_for_fork_pr_workflows": True,
    }


def test_main_branch_protection(config, render):
    config[f"{NS}:requiredChecks"] = ["test", "lint"]
    protection = render(config).named("github:index/branchProtection:BranchProtection", "main-branch")
    assert protection.inputs["pattern"] == "main"
    assert protection.inputs["repositoryId"] == "R_repository"  # the repository's node id
    assert protection.inputs["enforceAdmins"] is True
    assert protection.inputs["requiredPullRequestReviews"] == [
        {"requiredApprovingReviewCount": 1, "dismissStaleReviews": True}
    ]
    assert protection.inputs["requiredStatusChecks"] == [{"strict": True, "contexts": ["test", "lint"]}]
    assert protection.inputs["allowsForcePushes"] is False


def test_release_tag_rules_resolve_release_managers_to_ids(config, render, ids):
    rendering = render(config)
    create = rendering.named("github:index/repositoryRuleset:RepositoryRuleset", "release-tags-create")
    immutable = rendering.named("github:index/repositoryRuleset:RepositoryRuleset", "release-tags-immutable")
    for ruleset in (create, immutable):
        assert ruleset.inputs["target"] == "tag"
        assert ruleset.inputs["enforcement"] == "active"
        assert ruleset.inputs["conditions"] == {"refName": {"includes": ["refs/tags/*-v*"], "excludes": []}}
    assert create.inputs["rules"] == {"creation": True}
    assert create.inputs["bypassActors"] == [
        {"actorType": "User", "actorId": ids["users"]["alice"], "bypassMode": "always"},
        {"actorType": "Team", "actorId": ids["teams"]["release-managers"], "bypassMode": "always"},
    ]
    assert immutable.inputs["rules"] == {"update": True, "deletion": True, "nonFastForward": True}
    assert "bypassActors" not in immutable.inputs


def test_actions_policy(config, render):
    rendering = render(config)
    permissions = rendering.named(
        "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions", "actions-permissions"
    )
    assert permissions.inputs == {
        "repository": "percolate",
        "enabled": True,
        "allowedActions": "selected",
        "allowedActionsConfig": {
            "githubOwnedAllowed": True,
            "verifiedAllowed": False,
            "patternsAlloweds": ["docker/*", "pypa/gh-action-pypi-publish@*"],
        },
        "shaPinningRequired": True,
    }
    workflow = rendering.named(
        "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions", "actions-workflow-permissions"
    )
    assert workflow.inputs == {
        "repository": "percolate",
        "defaultWorkflowPermissions": "write",
        "canApprovePullRequestReviews": True,
    }
    fork = rendering.named("pulumi-python:dynamic/github:ForkPullRequestSettings", "actions-fork-pull-requests")
    assert fork.inputs["approval_policy"] == "all_external_contributors"
    assert fork.inputs["private"] is False


def test_deployment_environments(config, render, ids):
    rendering = render(config)
    environments = {
        r.inputs["environment"]: r
        for r in rendering.of_type("github:index/repositoryEnvironment:RepositoryEnvironment")
    }
    production, staging = environments["production"], environments["staging"]
    assert production.inputs["reviewers"] == [{"users": [ids["users"]["bob"]], "teams": [ids["teams"]["platform"]]}]
    assert production.inputs["preventSelfReview"] is True
    assert production.inputs["canAdminsBypass"] is False
    assert production.inputs["deploymentBranchPolicy"] == {"protectedBranches": False, "customBranchPolicies": True}
    assert "reviewers" not in staging.inputs
    policies = rendering.of_type(
        "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
    )
    by_environment: dict[str, list[dict]] = {}
    for policy in policies:
        by_environment.setdefault(policy.inputs["environment"], []).append(policy.inputs)
    assert {"repository": "percolate", "environment": "production", "branchPattern": "main"} in by_environment[
        "production"
    ]
    assert {
        "repository": "percolate",
        "environment": "production",
        "tagPattern": "percolate-v*.*.[0-9]",
    } in by_environment["production"]
    assert all("branchPattern" not in p for p in by_environment["staging"])
    assert {
        "repository": "percolate",
        "environment": "staging",
        "tagPattern": "percolate-rocks-v*.*.*-rc[1-9]*",
    } in by_environment["staging"]


def test_secrets_come_only_from_secret_config_and_stay_secret(config, render):
    rendering = render(config)
    secrets = rendering.of_type("github:index/actionsSecret:ActionsSecret")
    assert [s.inputs["secretName"] for s in secrets] == ["PERCOLATE_GIT_PAT"]
    assert secrets[0].inputs["value"] == SECRET_MASK
    assert secrets[0].secrets == ("value",)
    assert secrets[0].inputs["repository"] == "percolate"


def test_token_secrets_only_when_their_config_is_set(config, render):
    config[f"{NS}:pypiApiToken"] = {"secure": "v1:x"}
    config[f"{NS}:testPypiApiToken"] = {"secure": "v1:y"}
    names = sorted(s.inputs["secretName"] for s in render(config).of_type("github:index/actionsSecret:ActionsSecret"))
    assert names == ["PERCOLATE_GIT_PAT", "PYPI_API_TOKEN", "TEST_PYPI_API_TOKEN"]


def test_organization_secrets_are_visible_to_this_repository_only(config, render):
    config[f"{NS}:secretsAtOrganization"] = True
    rendering = render(config)
    assert rendering.of_type("github:index/actionsSecret:ActionsSecret") == []
    secret = rendering.named(
        "github:index/actionsOrganizationSecret:ActionsOrganizationSecret", "secrets-percolate-git-pat"
    )
    assert secret.inputs["visibility"] == "selected"
    assert secret.secrets == ("value",)
    members = rendering.named(
        "github:index/actionsOrganizationSecretRepositories:ActionsOrganizationSecretRepositories",
        "secrets-percolate-git-pat-repositories",
    )
    repo_id = rendering.named(REPOSITORY, "repository")
    assert members.inputs["secretName"] == "PERCOLATE_GIT_PAT"
    assert len(members.inputs["selectedRepositoryIds"]) == 1
    assert isinstance(members.inputs["selectedRepositoryIds"][0], int)
    assert repo_id.inputs["name"] == "percolate"


def test_argocd_project_and_applications(config, render):
    rendering = render(config)
    project = rendering.named("kubernetes:argoproj.io/v1alpha1:AppProject", "argocd-project")
    assert project.inputs["metadata"]["name"] == "percolate"
    assert project.inputs["metadata"]["namespace"] == "argocd"
    assert project.inputs["spec"]["sourceRepos"] == ["https://github.com/percolation-labs/percolate-cloud.git"]
    assert project.inputs["spec"]["destinations"] == [
        {"server": "https://kubernetes.default.svc", "namespace": "percolate"},
        {"server": "https://kubernetes.default.svc", "namespace": "reading"},
    ]
    api = rendering.named("kubernetes:argoproj.io/v1alpha1:Application", "argocd-percolate-api")
    assert api.inputs["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    assert api.inputs["spec"]["source"] == {
        "repoURL": "https://github.com/percolation-labs/percolate-cloud.git",
        "path": "apps/prod/percolate-api",
        "targetRevision": "main",
        "kustomize": {"images": [f"ghcr.io/percolation-labs/percolate@sha256:{'a' * 64}"]},
    }
    reading = rendering.named("kubernetes:argoproj.io/v1alpha1:Application", "argocd-percolate-reading")
    assert reading.inputs["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "reading"}
    assert reading.inputs["spec"]["source"]["kustomize"]["images"] == [
        f"ghcr.io/percolation-labs/percolate-reading@sha256:{'d' * 64}"
    ]
    assert rendering.outputs["argocdImages"]["percolate-api"].endswith("a" * 64)
    assert rendering.warnings == ()


def test_an_image_without_digest_is_declared_without_override_and_warns(config, render):
    config[f"{NS}:images"]["percolate"] = {"repository": "ghcr.io/percolation-labs/percolate"}
    rendering = render(config)
    api = rendering.named("kubernetes:argoproj.io/v1alpha1:Application", "argocd-percolate-api")
    assert "kustomize" not in api.inputs["spec"]["source"]
    assert rendering.outputs["argocdImages"]["percolate-api"] is None
    [warning] = rendering.warnings
    assert "percolate-api" in warning and "percolate-v" in warning and "push" in warning


def test_registry_cross_check_passes_when_tags_match_and_looks_every_pin_up(config, render, answers):
    lookups = answers(
        registry={
            "ghcr.io/percolation-labs/percolate:0.1.0": "sha256:" + "a" * 64,
            "ghcr.io/percolation-labs/percolate-reading:0.1.0": "sha256:" + "d" * 64,
        }
    )
    render(config, lookups)
    looked_up = sorted(args["name"] for token, args in lookups.calls if token.startswith("docker:"))
    assert looked_up == ["ghcr.io/percolation-labs/percolate-reading:0.1.0", "ghcr.io/percolation-labs/percolate:0.1.0"]


def test_a_moved_release_tag_fails_the_run(config, render, answers):
    moved = "sha256:" + "9" * 64
    lookups = answers(
        registry={
            "ghcr.io/percolation-labs/percolate:0.1.0": moved,
            "ghcr.io/percolation-labs/percolate-reading:0.1.0": "sha256:" + "d" * 64,
        }
    )
    with pytest.raises(CheckFailed) as raised:
        render(config, lookups)
    assert f"ghcr.io/percolation-labs/percolate:0.1.0 points at {moved}" in raised.value.message
    assert f"{NS}:images.percolate.digest is sha256:{'a' * 64}" in raised.value.message
    assert "registryCheck false" in str(raised.value.hint)


def test_the_registry_check_can_be_turned_off_for_offline_use(config, render, answers):
    config[f"{NS}:registryCheck"] = False
    lookups = answers(registry={})
    render(config, lookups)
    assert not [call for call in lookups.calls if call[0].startswith("docker:")]


def test_a_config_error_stops_the_run_before_any_resource(config, render):
    config[f"{NS}:productionReviewers"] = {"users": []}
    with pytest.raises(InputError, match="productionReviewers: no reviewers"):
        render(config)


def test_stack_outputs_export_trusted_publishers(config, render):
    outputs = render(config).outputs
    assert outputs["repository"] == "percolation-labs/percolate"
    assert outputs["requiredChecks"] == ["test"]
    publishers = {p["index"]: p for p in outputs["trustedPublishers"]}
    assert publishers["pypi"]["form"] == {
        "PyPI Project Name": "percolate-rocks",
        "Owner": "percolation-labs",
        "Repository name": "percolate",
        "Workflow name": "release-rocks.yml",
        "Environment name": "production",
    }
    assert publishers["testpypi"]["workflow"] == "build-rocks.yml"
    assert publishers["testpypi"]["environment"] == "staging"
