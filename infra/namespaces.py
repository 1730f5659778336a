"""The Kubernetes namespaces the program puts objects of its own in, declared so that one `pulumi up` suffices.

The canaries' AnalysisTemplates and the health gate's Roles (infra/rollouts.py) live in the
namespace of the canary's Application. Argo CD creates a destination namespace itself
(`CreateNamespace=true`), but only when it syncs the Application, after `pulumi up` has already
tried to create those objects in it: on a new cluster the first run stopped at "namespace not
found" and only a second one succeeded. So the program declares such a namespace; the objects in
it wait for it, and so do the Applications deploying into it, so that Argo CD never creates it first.

Only where the program owns the namespace: one it puts objects of its own in. Argo CD's own
namespace is never one (Argo CD is installed there before the program runs), and a destination
that holds only what Argo CD syncs is left to CreateNamespace.

The services run in these namespaces, and deleting a namespace deletes everything in it, so each is
retained on delete: when the program stops declaring it (the canary removed, the stack destroyed),
Pulumi forgets it and the cluster keeps it. A namespace that exists already is not adopted silently
(pulumi-kubernetes refuses to create an object that exists): import it once, as
docs/getting-started.md shows, or the run stops naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pulumi
from pulumi_kubernetes.core.v1 import Namespace
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs


class OwnedNamespaces(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        namespaces: Iterable[str],
        labels: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("percolate:kubernetes:OwnedNamespaces", name, None, opts)
        self.created: dict[str, Namespace] = {
            namespace: Namespace(
                f"{name}-{namespace}",
                metadata=ObjectMetaArgs(name=namespace, labels=dict(labels)),
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
            )
            for namespace in sorted(set(namespaces))
        }
        self.register_outputs({"namespaces": sorted(self.created)})

    def of(self, namespace: str) -> list[pulumi.Resource]:
        """What an object in `namespace` must wait for: its Namespace when the program declares it."""
        return [self.created[namespace]] if namespace in self.created else []
