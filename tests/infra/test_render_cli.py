"""`python -m infra render`: the committed prod stack, offline, as people and machines read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
NS = "percolate-platform"


def run_render(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "GITHUB_"))}
    environment["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "infra", "render", *args],
        check=False,
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def prod():
    result = run_render("--stack", "prod", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_prod_declares_everything_the_issue_asks_for(prod):
    types = {r["type"] for r in prod["resources"]}
    assert {
        "github:index/repository:Repository",
        "github:index/repositoryDependabotSecurityUpdates:RepositoryDependabotSecurityUpdates",
        "github:index/branchProtection:BranchProtection",
        "github:index/repositoryRuleset:RepositoryRuleset",
        "github:index/actionsRepositoryPermissions:ActionsRepositoryPermissions",
        "github:index/workflowRepositoryPermissions:WorkflowRepositoryPermissions",
        "pulumi-python:dynamic/github:ForkPullRequestSettings",
        "github:index/repositoryEnvironment:RepositoryEnvironment",
        "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
        "github:index/actionsSecret:ActionsSecret",
        "kubernetes:argoproj.io/v1alpha1:AppProject",
        "kubernetes:argoproj.io/v1alpha1:Application",
    } <= types
    assert {p["index"] for p in prod["outputs"]["trustedPublishers"]} == {"pypi", "testpypi"}
    assert "policy" not in prod


def test_prod_passes_every_policy_check():
    result = run_render("--stack", "prod", "--check", "--json")
    report = json.loads(result.stdout)["policy"]
    assert [c["problems"] for c in report["checks"] if c["problems"]] == []
    assert result.returncode == 0 and report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {
        "required_checks_exist",
        "workflow_actions_allowed",
        "no_plaintext_secrets",
    }


def test_prod_pins_both_applications_to_the_committed_digests(prod):
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    images = stack["config"][f"{NS}:images"]
    applications = {r["inputs"]["metadata"]["name"]: r for r in prod["resources"] if r["type"].endswith(":Application")}
    assert applications["percolate-api"]["inputs"]["spec"]["source"]["kustomize"]["images"] == [
        f"{images['percolate']['repository']}@{images['percolate']['digest']}"
    ]
    assert applications["percolate-reading"]["inputs"]["spec"]["source"]["kustomize"]["images"] == [
        f"{images['percolate-reading']['repository']}@{images['percolate-reading']['digest']}"
    ]
    assert prod["warnings"] == []


def test_secrets_are_masked_and_the_ciphertext_never_printed(prod):
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    ciphertext = stack["config"][f"{NS}:percolateGitPat"]["secure"]
    assert ciphertext not in json.dumps(prod)
    [secret] = [r for r in prod["resources"] if r["type"] == "github:index/actionsSecret:ActionsSecret"]
    assert secret["inputs"]["value"] == "[secret]" and secret["secrets"] == ["value"]
    assert all("__provider" not in r["inputs"] for r in prod["resources"])


def test_lookups_answered_offline_are_listed(prod):
    tokens = {lookup["token"] for lookup in prod["lookups"]}
    assert tokens == {"github:index/getTeam:getTeam", "docker:index/getRegistryImage:getRegistryImage"}


def test_the_text_form_is_for_people():
    result = run_render("--stack", "prod")
    assert result.returncode == 0, result.stderr
    assert "rendered offline under Pulumi's mocks" in result.stdout
    assert "kubernetes:argoproj.io/v1alpha1:Application  argocd-percolate-api" in result.stdout
    assert "value: '[secret]'" in result.stdout
    assert "rendering stack prod" in result.stderr


def _stack_file(tmp_path: Path, change) -> Path:
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    change(stack["config"])
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(stack))
    return path


def test_check_fails_with_exit_1_on_an_unpinned_image(tmp_path):
    path = _stack_file(tmp_path, lambda c: c[f"{NS}:images"].pop("percolate"))
    result = run_render("--stack-config", str(path), "--check")
    assert result.returncode == 1
    assert "FAILED images_pinned_by_digest" in result.stdout
    assert "warning: Argo CD application percolate-api" in result.stdout
    without_check = run_render("--stack-config", str(path))
    assert without_check.returncode == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.update({f"{NS}:percolateGitPat": "ghp_" + "a" * 36}),
            "percolateGitPat: holds a secret in plain text",
        ),
        (lambda c: c[f"{NS}:images"]["percolate"].update(digest="sha256:123"), "images.percolate.digest"),
        (lambda c: c.update({f"{NS}:productionReviewers": {"teams": []}}), "productionReviewers: no reviewers"),
    ],
)
def test_a_bad_config_exits_2_naming_the_key_without_a_traceback(tmp_path, change, message):
    result = run_render("--stack-config", str(_stack_file(tmp_path, change)), "--json")
    assert result.returncode == 2
    assert message in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "does not exist"),
        ("config: [unclosed", "cannot read"),
        ("config:\n  images: {}\n", "has no namespace"),
    ],
)
def test_an_unreadable_stack_file_exits_2(tmp_path, text, message):
    path = tmp_path / "Pulumi.x.yaml"
    if text is not None:
        path.write_text(text)
    result = run_render("--stack-config", str(path))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_help_describes_the_command_with_examples():
    result = run_render("--help")
    assert result.returncode == 0
    assert "--check" in result.stdout and "examples:" in result.stdout and "secrets masked" in result.stdout
