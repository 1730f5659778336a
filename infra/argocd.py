"""Argo CD: the AppProject `percolate` and one Application per image project, pinned to image digests.

Both are Argo CD custom resources (argoproj.io/v1alpha1) declared through the
Kubernetes provider. The project limits sources to the manifests repository and
destinations to the configured cluster and namespaces. Each Application renders
`{basePath}/{application}` of the manifests repository at `targetRevision` with
Kustomize, its image overridden to `repository@sha256:<index digest>` from the
images config; an image not released yet is declared without the override, and
the run warns how to release it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource

from infra.config import ArgoCdConfig
from infra.namespaces import OwnedNamespaces
from pipelines.core.catalog import image_projects
from pipelines.deploy.argo_rollouts import rollout_patch
from pipelines.deploy.canary import Canary
from pipelines.deploy.pins import IMAGES_KEY, ImagePin

API_VERSION = "argoproj.io/v1alpha1"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
SYNC_OPTIONS = ("CreateNamespace=true",)


def project_spec(config: ArgoCdConfig) -> dict[str, Any]:
    namespaces = sorted({namespace for _, namespace in config.namespaces})
    return {
        "description": "The Percolate services, deployed from the manifests repository by digest",
        "sourceRepos": [config.manifests_repo],
        "destinations": [{"server": config.server, "namespace": namespace} for namespace in namespaces],
        # CreateNamespace=true needs the project to allow Namespaces, and nothing else cluster-wide.
        "clusterResourceWhitelist": [{"group": "", "kind": "Namespace"}],
        "orphanedResources": {"warn": True},
    }


def application_spec(
    config: ArgoCdConfig, application: str, pin: ImagePin | None, canary: Canary | None = None
) -> dict[str, Any]:
    source: dict[str, Any] = {
        "repoURL": config.manifests_repo,
        "path": f"{config.base_path}/{application}",
        "targetRevision": config.target_revision,
    }
    if pin is not None and pin.pinned:
        source["kustomize"] = {"images": [pin.reference]}
    if canary is not None:  # the canary's steps into its Rollout (kustomize.patches: Argo CD >= 2.9)
        source.setdefault("kustomize", {})["patches"] = [rollout_patch(canary)]
    return {
        "project": config.project,
        "source": source,
        "destination": {"server": config.server, "namespace": config.namespace_of(application)},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": list(SYNC_OPTIONS),
            "retry": {
                "limit": config.retry_limit,
                "backoff": {
                    "duration": config.backoff_duration,
                    "factor": config.backoff_factor,
                    "maxDuration": config.backoff_max_duration,
                },
            },
        },
        "revisionHistoryLimit": config.revision_history_limit,
    }


def unpinned_warning(application: str, project: str) -> str:
    return (
        f"Argo CD application {application}: {IMAGES_KEY}.{project} has no digest yet, so the Application is "
        f"declared without an image override (its manifests' own tag would deploy). Release it: push "
        f"{project}-vX.Y.Z-rc1, then {project}-vX.Y.Z; the release writes the digest into the stack config."
    )


# On an Application declared without an image override because its image has no release yet: the
# policy check tells that apart from an override lost by mistake, and Argo CD's UI shows it too.
UNRELEASED_ANNOTATION = "percolate.dev/image"
UNRELEASED = "not released yet: the manifests' own image runs"


class ArgoCd(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: ArgoCdConfig,
        pins: dict[str, ImagePin],
        opts: pulumi.ResourceOptions | None = None,
        *,
        canaries: dict[str, Canary] | None = None,
        suffix: str = "",  # of each Application's name: `-staging` in the staging stack, none in prod
        unpinned_warning: Callable[[str, str], str] = unpinned_warning,
        namespaces: OwnedNamespaces | None = None,  # the destinations the program declares (infra/namespaces.py)
    ) -> None:
        super().__init__("percolate:argocd:ArgoCd", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        metadata = {"namespace": config.namespace, "labels": {"app.kubernetes.io/part-of": config.project}}
        project = CustomResource(
            f"{name}-project",
            api_version=API_VERSION,
            kind="AppProject",
            metadata={**metadata, "name": config.project},
            spec=project_spec(config),
            opts=child,
        )
        self.images: dict[str, str | None] = {}
        for image_project in image_projects():
            manifests = str(image_project.argocd_application)  # its folder under basePath
            application = f"{manifests}{suffix}"
            destination = config.namespace_of(manifests)
            pin = pins.get(image_project.name)
            if pin is None or not pin.pinned:
                pulumi.log.warn(unpinned_warning(application, image_project.name), resource=self)
            released = pin is not None and pin.pinned
            self.images[application] = pin.reference if pin is not None and pin.pinned else None
            annotations = {} if released else {"annotations": {UNRELEASED_ANNOTATION: UNRELEASED}}
            CustomResource(
                f"{name}-{application}",
                api_version=API_VERSION,
                kind="Application",
                metadata={**metadata, **annotations, "name": application, "finalizers": [RESOURCES_FINALIZER]},
                spec=application_spec(config, manifests, pin, (canaries or {}).get(image_project.name)),
                # A destination the program declares is there before Argo CD syncs (and would create it).
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[project, *(namespaces.of(destination) if namespaces else [])]
                ),
            )
        self.register_outputs({"images": self.images})
