"""Canary deployments in the Pulumi program, under Pulumi's mocks, every object checked against its CRD strictly.

The Application, AppProject, Rollout and AnalysisTemplate CRDs are verbatim upstream copies
(tests/support/crds); tests/support/crd_schema.py closes every object so an invented field fails.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from infra.policy import images_pinned_by_digest
from pipelines.core.errors import InputError
from tests.infra.conftest import CANARY
from tests.support.crd_schema import validate

NS = "percolate-platform"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"
APP_PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


def _application(rendering, name):
    return next(a for a in rendering.of_type(APPLICATION) if a.inputs["metadata"]["name"] == name)


def test_the_reading_application_carries_the_steps_as_a_kustomize_patch_of_its_rollout(canary_config, render):
    rendering = render(canary_config)
    reading = _application(rendering, "percolate-reading")
    validate(reading.inputs, "Application")
    [patch] = reading.inputs["spec"]["source"]["kustomize"]["patches"]
    assert patch["target"] == {
        "group": "argoproj.io",
        "version": "v1alpha1",
        "kind": "Rollout",
        "name": "percolate-reading",
    }
    steps = next(op["value"] for op in json.loads(patch["patch"]) if op["path"].endswith("/steps"))
    assert steps[:2] == [{"setWeight": 20}, {"pause": {"duration": "2m"}}]
    assert steps[2]["analysis"]["templates"] == [{"templateName": "percolate-reading-analysis"}]
    assert reading.inputs["spec"]["source"]["kustomize"]["images"][0].startswith(
        "ghcr.io/percolation-labs/percolate-reading@sha256:"
    )
    api = _application(rendering, "percolate-api")
    assert "patches" not in api.inputs["spec"]["source"]["kustomize"]  # percolate-api keeps its Deployment
    validate(api.inputs, "Application")


def test_the_analysis_template_lives_in_the_apps_namespace_and_matches_its_crd(canary_config, render):
    [template] = render(canary_config).of_type(TEMPLATE)
    document = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", **template.inputs}
    validate(document, "AnalysisTemplate")
    assert template.inputs["metadata"]["namespace"] == "reading"  # the conftest's namespace of percolate-reading
    web = template.inputs["spec"]["metrics"][0]["provider"]["web"]
    assert web["url"] == "http://percolate-reading-canary.reading.svc.cluster.local:8080/healthz"


def test_the_controller_comes_from_its_helm_chart_in_a_project_that_allows_only_what_it_needs(canary_config, render):
    rendering = render(canary_config)
    controller = _application(rendering, "argo-rollouts")
    validate(controller.inputs, "Application")
    source = controller.inputs["spec"]["source"]
    assert (source["repoURL"], source["chart"], source["targetRevision"]) == (
        "https://argoproj.github.io/argo-helm",
        "argo-rollouts",
        "2.41.0",
    )
    assert source["helm"]["valuesObject"]["installCRDs"] is True
    assert "ServerSideApply=true" in controller.inputs["spec"]["syncPolicy"]["syncOptions"]
    project = rendering.named(APP_PROJECT, "argo-rollouts-project")
    validate(project.inputs, "AppProject")
    spec = project.inputs["spec"]
    assert controller.inputs["spec"]["project"] == project.inputs["metadata"]["name"] == "argo-rollouts"
    assert spec["sourceRepos"] == [source["repoURL"]]
    assert spec["destinations"] == [controller.inputs["spec"]["destination"]]
    assert {(kind["group"], kind["kind"]) for kind in spec["clusterResourceWhitelist"]} == {
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("", "Namespace"),
    }
    # The services' project gains nothing cluster-wide.
    services = rendering.named(APP_PROJECT, "argocd-project")
    assert services.inputs["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert images_pinned_by_digest(rendering.resources) == []  # a chart Application is pinned by its version


def test_the_gates_identity_gets_exactly_the_rights_it_needs(canary_config, render):
    rendering = render(canary_config)
    roles = {role.inputs["metadata"]["namespace"]: role.inputs["rules"] for role in rendering.of_type(ROLE)}
    assert roles == {
        "argocd": [{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get"]}],
        "reading": [
            {"apiGroups": ["argoproj.io"], "resources": ["rollouts", "analysisruns"], "verbs": ["get"]},
            {"apiGroups": ["argoproj.io"], "resources": ["rollouts/status"], "verbs": ["patch"]},
        ],
    }
    bindings = rendering.of_type(BINDING)
    assert len(bindings) == 2
    for binding in bindings:
        assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]
        assert binding.inputs["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "percolate-health-gate",
        }


def test_without_install_nor_gate_only_templates_and_roles_are_declared_and_the_run_warns(config, render):
    config[f"{NS}:canary"] = copy.deepcopy(CANARY)
    rendering = render(config)
    assert {a.inputs["metadata"]["name"] for a in rendering.of_type(APPLICATION)} == {
        "percolate-reading",
        "percolate-api",
    }
    assert len(rendering.of_type(TEMPLATE)) == 1 and len(rendering.of_type(ROLE)) == 2
    assert rendering.of_type(BINDING) == []
    assert any("argoRollouts.install is false" in warning for warning in rendering.warnings)


def test_no_canary_declares_nothing_of_argo_rollouts(config, render):
    rendering = render(config)
    assert rendering.of_type(TEMPLATE) == rendering.of_type(ROLE) == []
    assert all("patches" not in a.inputs["spec"]["source"].get("kustomize", {}) for a in rendering.of_type(APPLICATION))


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        (
            "canary",
            {"percolate": CANARY["percolate-reading"]},
            "canary.percolate: this project cannot roll out by canary",
        ),
        ("canary", {"percolate-reading": {"steps": [{"setWeight": 20}, {"pause": {}}]}}, "untimed pause"),
        ("argoRollouts", {"install": "yes"}, "argoRollouts.install: 'yes' is not true or false"),
        (
            "argoRollouts",
            {"gate": {"kind": "Robot", "name": "x"}},
            "argoRollouts.gate.kind: 'Robot' is not a subject kind",
        ),
        ("argoRollouts", {"gate": {"kind": "User", "name": "x", "namespace": "ci"}}, "a User has no namespace"),
        ("argoRollouts", {"instal": True}, "argoRollouts.instal: unknown key"),
    ],
)
def test_bad_canary_config_stops_the_program_naming_the_key(config, settings_input, key, value, words):
    from infra.config import parse_settings

    config[f"{NS}:{key}"] = value
    with pytest.raises(InputError) as caught:
        parse_settings(*settings_input(config))
    assert f"stack config {NS}:" in caught.value.message and words in caught.value.message
    assert caught.value.hint


def test_the_strict_application_schema_catches_a_misspelled_patch_field(canary_config, render):
    reading = copy.deepcopy(_application(render(canary_config), "percolate-reading").inputs)
    reading["spec"]["source"]["kustomize"]["patches"][0]["target"]["kinds"] = "Rollout"
    with pytest.raises(jsonschema.ValidationError):
        validate(reading, "Application")
