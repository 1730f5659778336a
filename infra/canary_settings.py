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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.core.catalog import PULUMI_PROJECT
from pipelines.core.config_fields import config_error, known_mapping
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


def _name(data: Mapping[str, Any], path: str, field: str, default: str | None, pattern: re.Pattern[str]) -> str:
    value = data.get(field, default)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise config_error(f"{path}.{field}", f"{value!r} is not a valid name", f"e.g. {default or 'deployer'}")
    return value


def _gate(data: Any, path: str) -> GateSubject:
    gate = known_mapping(data, path, GATE_FIELDS, "{kind: ServiceAccount, name: deployer, namespace: ci}")
    kind = gate.get("kind")
    if kind not in SUBJECT_KINDS:
        raise config_error(f"{path}.kind", f"{kind!r} is not a subject kind", f"one of {', '.join(SUBJECT_KINDS)}")
    name = _name(gate, path, "name", None, _SUBJECT_NAME)
    if kind != "ServiceAccount":
        if "namespace" in gate:
            raise config_error(
                f"{path}.namespace", f"a {kind} has no namespace", "remove it (only a ServiceAccount has one)"
            )
        return GateSubject(kind, name)
    return GateSubject(kind, name, _name(gate, path, "namespace", None, DNS_LABEL))


def parse_argo_rollouts(data: Any, *, key: str = ARGO_ROLLOUTS_KEY) -> ArgoRolloutsConfig:
    """The argoRollouts section (absent: nothing installed, no RoleBindings)."""
    if data is None:
        return ArgoRolloutsConfig()
    section = known_mapping(data, key, FIELDS, "{install: true}")
    install = section.get("install", False)
    if not isinstance(install, bool):
        raise config_error(f"{key}.install", f"{install!r} is not true or false", "set true or false")
    return ArgoRolloutsConfig(
        install=install,
        namespace=_name(section, key, "namespace", "argo-rollouts", DNS_LABEL),
        gate=_gate(section["gate"], f"{key}.gate") if "gate" in section else None,
    )
