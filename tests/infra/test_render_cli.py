"""`python -m infra render`: the committed prod stack, offline, as people and machines read it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.argocd import UNRELEASED, UNRELEASED_ANNOTATION

REPO_ROOT = Path(__file__).resolve().parents[2]
NS = "percolate-platform"


def image_entry(project: str) -> dict[str, object]:
    """A released image's entry, as promote writes it."""
    return {
        "repository": f"ghcr.io/percolation-labs/{project}",
        "version": "0.1.0",
        "digest": "sha256:" + "a" * 64,
        "platforms": {"amd64": "sha256:" + "b" * 64, "arm64": "sha256:" + "c" * 64},
        "source": "2025.10.25.1430-build.123-v0.1.0-abc1234",
    }


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


def own_keys(document: object, *, inside: str = "") -> set[str]:
    """The keys render chose itself: not those inside a resource's inputs (the provider's names) or the outputs."""
    if isinstance(document, list):
        return set().union(*(own_keys(item, inside=inside) for item in document))
    if not isinstance(document, dict) or inside in ("inputs", "outputs"):
        return set()
    return set(document).union(*(own_keys(value, inside=key) for key, value in document.items()))


def test_own_keys_skip_what_providers_and_outputs_name():
    document = {
        "stack_config": 1,
        "resources": [{"inputs": {"repoId": 1}, "retainOnDelete": True}],
        "outputs": {"a": {"b": 1}},
    }
    assert own_keys(document) == {"stack_config", "resources", "inputs", "retainOnDelete", "outputs"}


def test_prod_passes_every_policy_check():
    result = run_render("--stack", "prod", "--check", "--json")
    document = json.loads(result.stdout)
    # Our own keys are snake_case like every other command's JSON; a resource's inputs keep the provider's names.
    assert [key for key in own_keys(document) if key != key.lower()] == []
    report = document["policy"]
    assert [c["problems"] for c in report["checks"] if c["problems"]] == []
    assert result.returncode == 0 and report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {
        "required_checks_exist",
        "workflow_actions_allowed",
        "no_plaintext_secrets",
    }


def test_a_new_prod_stack_declares_its_applications_unreleased(prod):
    """Nothing released yet: no image override, no registry lookup, a warning that says how to release."""
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    assert all(set(entry) == {"repository"} for entry in stack["config"][f"{NS}:images"].values())
    applications = {
        r["inputs"]["metadata"]["name"]: r
        for r in prod["resources"]
        if r["type"].endswith(":Application") and "chart" not in r["inputs"]["spec"]["source"]  # not the controller
    }
    assert set(applications) == {"percolate-api", "percolate-reading"}
    for application in applications.values():
        assert "images" not in application["inputs"]["spec"]["source"].get("kustomize", {})  # the canary patch only
        assert application["inputs"]["metadata"]["annotations"] == {UNRELEASED_ANNOTATION: UNRELEASED}
    assert prod["outputs"]["argocdImages"] == {"percolate-api": None, "percolate-reading": None}
    assert len(prod["warnings"]) == 2 and all("has no digest yet" in w for w in prod["warnings"])


def test_secrets_are_masked_and_the_ciphertext_never_printed(prod):
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    ciphertext = stack["config"][f"{NS}:percolateGitPat"]["secure"]
    assert ciphertext not in json.dumps(prod)
    [secret] = [r for r in prod["resources"] if r["type"] == "github:index/actionsSecret:ActionsSecret"]
    assert secret["inputs"]["value"] == "[secret]" and secret["secrets"] == ["value"]
    assert all("__provider" not in r["inputs"] for r in prod["resources"])


def test_a_preview_of_prod_looks_nothing_up(prod):
    """A pull request's preview has no organization access and nothing is released: no lookup at all."""
    assert prod["lookups"] == []


def test_lookups_answered_offline_are_listed(tmp_path):
    def released_with_a_user(config):
        config[f"{NS}:images"]["percolate"] = image_entry("percolate")
        config[f"{NS}:releaseManagers"]["users"] = ["alice"]

    result = run_render("--stack-config", str(_stack_file(tmp_path, released_with_a_user)), "--json")
    assert result.returncode == 0, result.stderr
    tokens = {lookup["token"] for lookup in json.loads(result.stdout)["lookups"]}
    assert tokens == {"github:index/getUser:getUser", "docker:index/getRegistryImage:getRegistryImage"}


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


def test_check_fails_with_exit_1_on_a_failed_policy(tmp_path):
    path = _stack_file(tmp_path, lambda c: c.update({f"{NS}:requiredChecks": ["test", "lint"]}))
    result = run_render("--stack-config", str(path), "--check")
    assert result.returncode == 1
    assert "FAILED required_checks_exist" in result.stdout
    without_check = run_render("--stack-config", str(path))
    assert without_check.returncode == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c.update({f"{NS}:percolateGitPat": "ghp_" + "a" * 36}),
            "percolateGitPat: holds a secret in plain text",
        ),
        (
            lambda c: c[f"{NS}:images"].update(percolate={**image_entry("percolate"), "digest": "sha256:123"}),
            "images.percolate.digest",
        ),
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


def test_what_render_prints_passes_the_output_boundary(tmp_path):
    """A path (or any text) holding a control character or a workflow command is printed neutralised."""
    folder = tmp_path / "x\n::error::planted\x1b[2J"
    folder.mkdir()

    result = run_render("--stack-config", str(folder / "Pulumi.x.yaml"))

    assert result.returncode == 2, result.stderr
    assert "\\::error::planted\\x1b[2J" in result.stderr
    assert not [line for line in result.stderr.split("\n") if line.lstrip().startswith("::")]
