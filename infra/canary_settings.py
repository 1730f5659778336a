"""The stack config of canary deployments: `percolate-platform:canary` and `percolate-platform:argoRollouts`.

The canary section's rules live in pipelines.deploy.canary (the health gate reads the same
section); this module adds the Argo Rollouts settings of the program:

    percolate-platform:argoRollouts:
      install: true                 # install the controller (Helm chart argo-rollouts, CRDs included)
      namespace: argo-rollouts      # where the controller runs
      gate:                         # the identity deploy.yml's health gate uses (kubeconfig secret)
        kind: ServiceAccount        # User, Group or ServiceAccount
        name: deployer
        namespace: ci               # ServiceAccount only

Pure: raises InputError naming the key and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipelines.core.catalog import PULUMI_PROJECT
from pipelines.core.config_fields import ConfigObject, config_error
from pipelines.core.names import DNS_LABEL

ARGO_ROLLOUTS_KEY = f"{PULUMI_PROJECT}:argoRollouts"
FIELDS = ("install", "namespace", "gate")
GATE_FIELDS = ("kind", "name", "namespace")
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")
_SUBJECT_NAME = re.compile(r"[A-Za-z0-9@:._-]{1,253}")


@dataclass(frozen=True)
class GateSubject:
    """Who the health gate is in the cluster: the subject its RoleBindings name."""

    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class ArgoRolloutsConfig:
    install: bool = False
    namespace: str = "argo-rollouts"
    gate: GateSubject | None = None


def _gate(data: Any, path: str) -> GateSubject:
    gate = ConfigObject(
        data, path, GATE_FIELDS, "{kind: ServiceAccount, name: deployer, namespace: ci}", guide="docs/canary.md"
    )
    kind = gate.data.get("kind")
    if kind not in SUBJECT_KINDS:
        raise config_error(gate.where("kind"), f"{kind!r} is not a subject kind", f"one of {', '.join(SUBJECT_KINDS)}")
    name = gate.string("name", example="deployer", pattern=_SUBJECT_NAME)
    if kind != "ServiceAccount":
        if "namespace" in gate.data:
            raise config_error(
                gate.where("namespace"), f"a {kind} has no namespace", "remove it (only a ServiceAccount has one)"
            )
        return GateSubject(kind, name)
    return GateSubject(kind, name, gate.string("namespace", example="ci", pattern=DNS_LABEL))


def parse_argo_rollouts(data: Any, *, key: str = ARGO_ROLLOUTS_KEY) -> ArgoRolloutsConfig:
    """The argoRollouts section (absent: nothing installed, no RoleBindings)."""
    if data is None:
        return ArgoRolloutsConfig()
    section = ConfigObject(data, key, FIELDS, "{install: true}", guide="docs/canary.md")
    return ArgoRolloutsConfig(
        install=section.boolean("install", default=False),
        namespace=section.string("namespace", example="argo-rollouts", default="argo-rollouts", pattern=DNS_LABEL),
        gate=_gate(section.data["gate"], section.where("gate")) if "gate" in section.data else None,
    )
