"""Argo Rollouts: the controller, the canaries' AnalysisTemplates, and the health gate's rights.

- The controller, when `percolate-platform:argoRollouts.install` is true: an Argo CD Application
  rendering the Helm chart `argo-rollouts` 2.41.0 from argo-helm (its CRDs included), in an
  AppProject of its own. Its chart needs cluster-wide kinds (CustomResourceDefinitions,
  ClusterRoles and their bindings) that the services' project must never be allowed to create.
- One AnalysisTemplate per canary with an analysis (pipelines.deploy.canary renders it), in the
  namespace of the project's Application, where its Rollout runs.
- The gate's RBAC: a Role to `get` Applications in Argo CD's namespace, and per canary a Role to
  `get` rollouts and analysisruns and `patch` rollouts/status (the abort); bound to the gate's
  identity when `argoRollouts.gate` names it.
The objects in a canary's namespace wait for that namespace, which the program declares
(`canary_namespaces`, infra/namespaces.py) so that the first `pulumi up` finds it.
The steps themselves reach the Rollout through the Application's `kustomize.patches` (infra/argocd.py).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs
from pulumi_kubernetes.rbac.v1 import PolicyRuleArgs, Role, RoleBinding, RoleRefArgs, SubjectArgs

from infra.canary_settings import ArgoRolloutsConfig
from infra.config import ArgoCdConfig
from infra.namespaces import OwnedNamespaces
from pipelines.deploy.argo_rollouts import analysis_template
from pipelines.deploy.canary import Canary

API_VERSION = "argoproj.io/v1alpha1"
CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
CHART = "argo-rollouts"
CHART_VERSION = "2.41.0"  # controller v1.9.0
CONTROLLER_PROJECT = "argo-rollouts"
GATE_ROLE = "percolate-health-gate"
# What the chart creates outside a namespace: its CRDs, the controller's ClusterRole and binding, and
# the aggregate roles (admin/edit/view) for people; CreateNamespace needs Namespace.
CLUSTER_KINDS = (
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("", "Namespace"),
)
# The chart's CRDs are too large for client-side apply's last-applied annotation.
CONTROLLER_SYNC_OPTIONS = ("CreateNamespace=true", "ServerSideApply=true")


def controller_project_spec(argocd: ArgoCdConfig, rollouts: ArgoRolloutsConfig) -> dict[str, Any]:
    return {
        "description": "The Argo Rollouts controller, from its Helm chart",
        "sourceRepos": [CHART_REPOSITORY],
        "destinations": [{"server": argocd.server, "namespace": rollouts.namespace}],
        "clusterResourceWhitelist": [{"group": group, "kind": kind} for group, kind in CLUSTER_KINDS],
        "orphanedResources": {"warn": True},
    }


def controller_application_spec(argocd: ArgoCdConfig, rollouts: ArgoRolloutsConfig) -> dict[str, Any]:
    return {
        "project": CONTROLLER_PROJECT,
        "source": {
            "repoURL": CHART_REPOSITORY,
            "chart": CHART,
            "targetRevision": CHART_VERSION,
            "helm": {
                "releaseName": CHART,
                # installCRDs/keepCRDs: the chart installs the CRDs and keeps them when it is removed, so
                # removing the controller never deletes the Rollouts (and with them the services' pods).
                "valuesObject": {"installCRDs": True, "keepCRDs": True, "dashboard": {"enabled": False}},
            },
        },
        "destination": {"server": argocd.server, "namespace": rollouts.namespace},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": list(CONTROLLER_SYNC_OPTIONS),
        },
        "revisionHistoryLimit": argocd.revision_history_limit,
    }


def canary_namespaces(argocd: ArgoCdConfig, canaries: dict[str, Canary]) -> tuple[str, ...]:
    """The namespaces this component puts objects of the program's own in, besides Argo CD's (which exists
    before the program runs): each canary's, where its AnalysisTemplate and the gate's Role live."""
    return tuple(sorted({argocd.namespace_of(c.application) for c in canaries.values()} - {argocd.namespace}))


def application_reader_rules() -> list[dict[str, Any]]:
    return [{"apiGroups": ["argoproj.io"], "resources": ["applications"], "verbs": ["get"]}]


def canary_gate_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": ["argoproj.io"], "resources": ["rollouts", "analysisruns"], "verbs": ["get"]},
        {"apiGroups": ["argoproj.io"], "resources": ["rollouts/status"], "verbs": ["patch"]},
    ]


class ArgoRollouts(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        argocd: ArgoCdConfig,
        rollouts: ArgoRolloutsConfig,
        canaries: dict[str, Canary],
        namespaces: OwnedNamespaces,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("percolate:argocd:ArgoRollouts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/part-of": argocd.project}
        depends: list[pulumi.Resource] = []
        if rollouts.install:
            project = CustomResource(
                f"{name}-project",
                api_version=API_VERSION,
                kind="AppProject",
                metadata={"name": CONTROLLER_PROJECT, "namespace": argocd.namespace, "labels": labels},
                spec=controller_project_spec(argocd, rollouts),
                opts=child,
            )
            controller = CustomResource(
                f"{name}-controller",
                api_version=API_VERSION,
                kind="Application",
                metadata={"name": CHART, "namespace": argocd.namespace, "labels": labels},
                spec=controller_application_spec(argocd, rollouts),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[project]),
            )
            depends.append(controller)
        elif canaries:
            pulumi.log.warn(
                "canaries are configured but percolate-platform:argoRollouts.install is false: the Argo Rollouts "
                "controller must already run in the cluster (docs/canary.md)",
                resource=self,
            )
        self.templates: dict[str, str] = {}
        for canary in canaries.values():
            namespace = argocd.namespace_of(canary.application)
            if canary.analysis is not None:
                template = analysis_template(canary, namespace)
                CustomResource(
                    f"{name}-{canary.template_name}",
                    api_version=API_VERSION,
                    kind="AnalysisTemplate",
                    metadata=template["metadata"],
                    spec=template["spec"],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends, *namespaces.of(namespace)]),
                )
                self.templates[canary.project] = f"{namespace}/{canary.template_name}"
            self._role(f"{name}-gate-{canary.application}", namespace, canary_gate_rules(), rollouts, namespaces)
        if canaries:
            self._role(f"{name}-gate-applications", argocd.namespace, application_reader_rules(), rollouts, namespaces)
        self.register_outputs({"analysisTemplates": self.templates})

    def _role(
        self,
        resource: str,
        namespace: str,
        rules: list[dict[str, Any]],
        rollouts: ArgoRolloutsConfig,
        namespaces: OwnedNamespaces,
    ) -> None:
        metadata = ObjectMetaArgs(
            name=GATE_ROLE, namespace=namespace, labels={"app.kubernetes.io/component": "health-gate"}
        )
        role = Role(
            resource,
            metadata=metadata,
            rules=[
                PolicyRuleArgs(api_groups=r["apiGroups"], resources=r["resources"], verbs=r["verbs"]) for r in rules
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=namespaces.of(namespace)),
        )
        if rollouts.gate is None:
            return
        subject = rollouts.gate
        RoleBinding(
            f"{resource}-binding",
            metadata=metadata,
            role_ref=RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role", name=GATE_ROLE),
            subjects=[
                SubjectArgs(
                    kind=subject.kind,
                    name=subject.name,
                    namespace=subject.namespace,
                    api_group=None if subject.kind == "ServiceAccount" else "rbac.authorization.k8s.io",
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
