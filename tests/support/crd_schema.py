"""Strict JSON schemas from the CustomResourceDefinitions in tests/support/crds (verbatim upstream copies).

The API server prunes fields a CRD does not declare; these tests want them refused instead, so every
object schema that lists `properties` is closed (additionalProperties: false) unless it says
`x-kubernetes-preserve-unknown-fields`, and `x-kubernetes-int-or-string` becomes integer-or-string.
`metadata` (which CRDs leave open) gets the ObjectMeta fields the platform sets.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRDS = Path(__file__).resolve().parent / "crds"
FILES = {
    "Application": "argocd-application-crd.yaml",
    "AppProject": "argocd-appproject-crd.yaml",
    "Rollout": "argo-rollouts-rollout-crd.yaml",
    "AnalysisTemplate": "argo-rollouts-analysistemplate-crd.yaml",
}
STRING = {"type": "string"}
METADATA = {
    "type": "object",
    "properties": {
        "name": STRING,
        "namespace": STRING,
        "labels": {"type": "object", "additionalProperties": STRING},
        "annotations": {"type": "object", "additionalProperties": STRING},
        "finalizers": {"type": "array", "items": STRING},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    out.pop("format", None)  # int32/int64/date-time: jsonschema would not check most of them anyway
    if node.get("x-kubernetes-int-or-string"):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@functools.cache
def strict_schema(kind: str) -> dict[str, Any]:
    """The whole object's schema (apiVersion, kind, metadata, spec) for `kind`, closed everywhere."""
    crd = yaml.load((CRDS / FILES[kind]).read_text(), Loader=yaml.CSafeLoader)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema = _strict(version["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = METADATA
    schema["properties"]["apiVersion"] = {"const": "argoproj.io/v1alpha1"}
    schema["properties"]["kind"] = {"const": kind}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    return schema


def subschema(kind: str, *path: str) -> dict[str, Any]:
    """The schema at `path` under the object's properties, e.g. ("spec", "strategy", "canary")."""
    node = strict_schema(kind)
    for key in path:
        node = node["properties"][key]
    return node


def validate(document: Any, kind: str, *path: str) -> None:
    """Raise jsonschema.ValidationError unless `document` fits the CRD of `kind` (at `path`) strictly."""
    schema = subschema(kind, *path) if path else strict_schema(kind)
    jsonschema.validate(document, schema, cls=jsonschema.Draft7Validator)
