"""The staging stack (Pulumi.staging.yaml) under Pulumi's mocks, its pins read from the real local registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.policy import evaluate_staging
from infra.render import offline_answers, read_stack_file, run_program, stack_config, with_registry
from pipelines.core.errors import InputError
from tests.staging.staging_builds import push_staged_build

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGING_FILE = REPO_ROOT / "Pulumi.staging.yaml"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
NS = "percolate-platform"


def render_staging(registry: str, path: Path = STAGING_FILE):
    config = with_registry(read_stack_file(path), registry)
    return run_program(config, offline_answers(config), stack="staging")


def test_staging_applications_are_pinned_to_the_newest_build_index(area):
    index = push_staged_build(area, "percolate", sha="abc1234", number=7, at="2025-11-20T09:30:00+00:00")
    # A newer build of percolate, incomplete: never staged.
    area.push_build("percolate", sha="def5678", number=8, at="2025-11-21T09:30:00+00:00", arches=("arm64",))
    rendering = render_staging(area.registry())

    api = rendering.named(APPLICATION, "argocd-percolate-api-staging")
    assert api.inputs["metadata"]["name"] == "percolate-api-staging"
    assert api.inputs["spec"]["destination"]["namespace"] == "percolate-staging"
    assert api.inputs["spec"]["source"]["path"] == "apps/staging/percolate-api"
    assert api.inputs["spec"]["source"]["kustomize"]["images"] == [f"{area.registry()}/percolate@{index.digest}"]
    assert index.digest == area.digest("percolate", "2025.11.20.0930-build.7-v0.2.0-abc1234")

    # percolate-reading has no build at all: declared without an override, and the run says why.
    reading = rendering.named(APPLICATION, "argocd-percolate-reading-staging")
    assert "kustomize" not in reading.inputs["spec"]["source"]
    assert any("no complete build of percolate-reading" in warning for warning in rendering.warnings)

    assert rendering.outputs["argocdImages"] == {
        "percolate-api-staging": f"{area.registry()}/percolate@{index.digest}",
        "percolate-reading-staging": None,
    }
    staged = rendering.outputs["stagingBuilds"]["percolate"]
    assert staged["build"] == "2025.11.20.0930-build.7-v0.2.0-abc1234"
    assert staged["digest"] == index.digest
    assert staged["application"] == "percolate-api-staging"
    assert staged["url"] == "https://api.staging.percolate.example"
    assert rendering.outputs["stagingBuilds"]["percolate-reading"]["digest"] is None
    project = rendering.named("kubernetes:argoproj.io/v1alpha1:AppProject", "argocd-project")
    assert project.inputs["metadata"]["name"] == "percolate-staging"
    assert project.inputs["spec"]["destinations"] == [
        {"server": "https://kubernetes.default.svc", "namespace": "percolate-staging"}
    ]
    # GitHub settings are the prod stack's: staging declares Argo CD only.
    assert {resource.type.split(":")[0] for resource in rendering.resources} == {"kubernetes", "percolate"}
    assert evaluate_staging(rendering.resources).ok


def test_the_staging_policy_refuses_github_resources_and_a_lost_pin(area):
    push_staged_build(area, "percolate", sha="abc1234", number=7, at="2025-11-20T09:30:00+00:00")
    prod = run_program(
        read_stack_file(REPO_ROOT / "Pulumi.prod.yaml"),
        offline_answers(read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")),
    )
    report = evaluate_staging(prod.resources).to_dict()
    failed = {check["name"] for check in report["checks"] if not check["ok"]}
    assert failed == {"staging_declares_no_github"}
    staging = render_staging(area.registry())
    api = next(r for r in staging.resources if r.name == "argocd-percolate-api-staging")
    del api.inputs["spec"]["source"]["kustomize"]
    assert not evaluate_staging(staging.resources).ok


def write_staging(tmp_path: Path, **changes: object) -> Path:
    document = yaml.safe_load(STAGING_FILE.read_text(encoding="utf-8"))
    document["config"].update({f"{NS}:{key}": value for key, value in changes.items()})
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"repository": {"owner": "percolation-labs", "name": "percolate"}}, "is a setting of the prod stack"),
        ({"images": {"percolate": {"repository": "ghcr.io/percolation-labs/percolate"}}}, "setting of the prod stack"),
        ({"urls": {"percolate-api": "http://api.example.org", "percolate-reading": "https://r.example.org"}}, "https"),
        ({"registry": "https://ghcr.io/percolation-labs"}, "has a scheme"),
        ({"canary": {"percolate-reading": {}}}, "setting of the prod stack"),  # canaries roll out in prod only
        ({"canaries": True}, "unknown key"),
    ],
)
def test_a_bad_staging_config_is_refused_before_any_lookup(tmp_path, change, message):
    config = read_stack_file(write_staging(tmp_path, **change))
    with pytest.raises(InputError, match=message):
        run_program(config, offline_answers(config), stack="staging")


def test_registry_override_is_for_staging_only():
    prod = stack_config({"config": {f"{NS}:registryCheck": False}}, Path("Pulumi.prod.yaml"))
    with pytest.raises(InputError, match="staging stack only"):
        with_registry(prod, "127.0.0.1:5000/x")


def test_render_check_of_the_staging_stack_works_offline_against_the_local_registry(area):
    index = push_staged_build(area, "percolate-reading", sha="abc1234", number=4, at="2025-11-20T09:30:00+00:00")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "GITHUB_", "REGISTRY_"))}
    environment["PYTHONPATH"] = str(REPO_ROOT)
    command = [sys.executable, "-m", "infra", "render", "--stack", "staging", "--check", "--json"]
    result = subprocess.run(
        [*command, "--registry", area.registry()],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["policy"]["ok"] is True
    assert data["outputs"]["argocdImages"]["percolate-reading-staging"] == (
        f"{area.registry()}/percolate-reading@{index.digest}"
    )
    assert [check["name"] for check in data["policy"]["checks"]] == [
        "no_plaintext_secrets",
        "images_pinned_by_digest",
        "staging_declares_no_github",
    ]
