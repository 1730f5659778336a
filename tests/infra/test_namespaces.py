"""The namespaces the program owns, under Pulumi's mocks: one `pulumi up` creates the canary's namespace
before anything that lives in it, and never deletes it.

`first_run_problems` reads a rendering as the engine would order a first `pulumi up` on a new cluster:
an object in a namespace nobody has created yet (neither declared by the program nor Argo CD's own,
which exists before the program runs) fails with "namespace not found", and so does one that does
not wait for the Namespace declaring it. The controls run the program as it was before
(no Namespace, or one nothing waits for) and the check must name what breaks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import infra.namespaces
import infra.production
from infra.render import Declared, Rendering

REPO_ROOT = Path(__file__).resolve().parents[2]
NS = "percolate-platform"
NAMESPACE = "kubernetes:core/v1:Namespace"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"


def key(resource: Declared) -> str:
    return f"{resource.type}::{resource.name}"


def waits_for(rendering: Rendering, resource: Declared, target: str) -> bool:
    """Whether `resource` depends on `target` (`type::name`), directly or through what it depends on."""
    by_key = {key(r): r for r in rendering.resources}
    seen: set[str] = set()
    pending = list(resource.dependencies)
    while pending:
        current = pending.pop()
        if current == target:
            return True
        if current not in seen and current in by_key:
            seen.add(current)
            pending.extend(by_key[current].dependencies)
    return False


def first_run_problems(rendering: Rendering, argocd_namespace: str = "argocd") -> list[str]:
    declared = {r.inputs["metadata"]["name"]: r for r in rendering.of_type(NAMESPACE)}
    problems = [
        f"Namespace {name} is deleted with the stack (and everything in it)"
        for name, resource in declared.items()
        if not resource.retain_on_delete
    ]
    for resource in rendering.resources:
        if not resource.type.startswith("kubernetes:") or resource.type == NAMESPACE:
            continue
        inside = resource.inputs.get("metadata", {}).get("namespace")
        if inside is not None and inside != argocd_namespace:
            if inside not in declared:
                problems.append(f"{key(resource)} lives in namespace {inside}, which nothing creates before it")
            elif not waits_for(rendering, resource, key(declared[inside])):
                problems.append(f"{key(resource)} does not wait for Namespace {inside}")
        if resource.type == APPLICATION:
            destination = resource.inputs["spec"]["destination"]["namespace"]
            if destination in declared and not waits_for(rendering, resource, key(declared[destination])):
                problems.append(f"{key(resource)} may sync into {destination} before the program creates it")
    return problems


def test_the_canarys_namespace_is_declared_retained_and_waited_for(canary_config, render):
    rendering = render(canary_config)
    [namespace] = rendering.of_type(NAMESPACE)
    assert namespace.inputs["metadata"] == {"name": "reading", "labels": {"app.kubernetes.io/part-of": "percolate"}}
    assert namespace.retain_on_delete is True
    assert namespace.parent == "percolate:kubernetes:OwnedNamespaces::namespaces"
    assert first_run_problems(rendering) == []
    # What lives in it: the AnalysisTemplate, the gate's Role and its binding; the Application deploying into it.
    waiting = {r.name for r in rendering.resources if waits_for(rendering, r, key(namespace))}
    assert waiting == {
        "argo-rollouts-percolate-reading-analysis",
        "argo-rollouts-gate-percolate-reading",
        "argo-rollouts-gate-percolate-reading-binding",
        "argocd-percolate-reading",
    }


def test_one_namespace_for_both_applications_and_none_for_argo_cds_own(canary_config, render):
    canary_config[f"{NS}:argocd"]["namespaces"] = {"percolate-api": "percolate", "percolate-reading": "percolate"}
    rendering = render(canary_config)
    [namespace] = rendering.of_type(NAMESPACE)
    assert namespace.inputs["metadata"]["name"] == "percolate"
    # percolate-api deploys into it too, so it must not race the program either.
    api = rendering.named(APPLICATION, "argocd-percolate-api")
    assert waits_for(rendering, api, key(namespace))
    assert first_run_problems(rendering) == []


def test_a_canary_in_argo_cds_namespace_declares_no_namespace(canary_config, render):
    canary_config[f"{NS}:argocd"]["namespaces"] = {"percolate-api": "percolate", "percolate-reading": "argocd"}
    rendering = render(canary_config)
    assert rendering.of_type(NAMESPACE) == []
    assert first_run_problems(rendering) == []


def test_without_a_canary_the_program_owns_no_namespace(config, render):
    rendering = render(config)
    assert rendering.of_type(NAMESPACE) == []
    assert first_run_problems(rendering) == []  # nothing of the program's own outside Argo CD's namespace


def test_control_no_namespace_declared_fails_the_first_run(canary_config, render, monkeypatch):
    """The program as it was: the Role and the AnalysisTemplate in a namespace only Argo CD's sync creates."""
    monkeypatch.setattr(infra.production, "canary_namespaces", lambda argocd, canaries: ())
    problems = first_run_problems(render(canary_config))
    assert (
        "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate::argo-rollouts-percolate-reading-analysis lives in "
        "namespace reading, which nothing creates before it"
    ) in problems
    assert any(p.startswith("kubernetes:rbac.authorization.k8s.io/v1:Role::argo-rollouts-gate-") for p in problems)


def test_control_a_namespace_nothing_waits_for_fails_the_first_run(canary_config, render, monkeypatch):
    monkeypatch.setattr(infra.namespaces.OwnedNamespaces, "of", lambda self, namespace: [])
    problems = first_run_problems(render(canary_config))
    assert "kubernetes:argoproj.io/v1alpha1:Application::argocd-percolate-reading may sync into reading" in " ".join(
        problems
    )
    assert any("AnalysisTemplate::argo-rollouts-percolate-reading-analysis does not wait for" in p for p in problems)


def test_control_a_namespace_not_retained_is_reported(canary_config, render):
    rendering = render(canary_config)
    deleting = Rendering(
        tuple(
            dataclasses.replace(r, retain_on_delete=False) if r.type == NAMESPACE else r for r in rendering.resources
        ),
        rendering.outputs,
        rendering.warnings,
        rendering.lookups,
    )
    assert first_run_problems(deleting) == ["Namespace reading is deleted with the stack (and everything in it)"]


def test_the_committed_prod_stack_declares_percolate_retained_and_render_says_so():
    """`python -m infra render` on Pulumi.prod.yaml (its canary runs in `percolate`): JSON and text show the option."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "GITHUB_"))}
    environment["PYTHONPATH"] = str(REPO_ROOT)

    def render_cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "infra", "render", "--stack", "prod", "--check", *args]
        return subprocess.run(
            command, check=False, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120
        )

    result = render_cli("--json")
    assert result.returncode == 0, result.stderr
    [namespace] = [r for r in json.loads(result.stdout)["resources"] if r["type"] == NAMESPACE]
    assert (namespace["inputs"]["metadata"]["name"], namespace["retain_on_delete"]) == ("percolate", True)
    text = render_cli().stdout
    assert "kubernetes:core/v1:Namespace  namespaces-percolate" in text
    assert "retainOnDelete: kept in the cluster when the program stops declaring it" in text
