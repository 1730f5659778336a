"""What a canary (pipelines.deploy.canary) becomes for Argo Rollouts: Rollout fields, patch, AnalysisTemplate.

Pure. `rollout_canary` gives the fields of the Rollout's `spec.strategy.canary` the platform owns,
`rollout_patch` the Application's `kustomize.patches` entry that sets them, and `analysis_template`
the AnalysisTemplate every analysis step runs. Each validates against Argo Rollouts' CRDs (v1.9).
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.core.errors import InputError
from pipelines.deploy.canary import (
    CANARY_HASH_ARG,
    ROLLOUTS_API_VERSION,
    AnalysisStep,
    Canary,
    PrometheusMetric,
    WebMetric,
)


def rollout_canary(canary: Canary) -> dict[str, Any]:
    """The fields of the Rollout's `spec.strategy.canary` that the platform owns."""
    return {
        "canaryService": canary.canary_service,
        "stableService": canary.stable_service,
        "steps": [
            step.to_step(canary.template_name) if isinstance(step, AnalysisStep) else step.to_step()
            for step in canary.steps
        ],
    }


def rollout_patch(canary: Canary) -> dict[str, Any]:
    """The Application's `spec.source.kustomize.patches` entry: JSON patch ops on the Rollout.

    `add` replaces a member that exists, so the manifests' own steps (if any) give way to these;
    the Rollout must use the canary strategy (`spec.strategy.canary` present).
    """
    operations = [
        {"op": "add", "path": f"/spec/strategy/canary/{field}", "value": value}
        for field, value in rollout_canary(canary).items()
    ]
    return {
        "target": {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout", "name": canary.rollout},
        "patch": json.dumps(operations, separators=(",", ":")),
    }


def _provider(metric: WebMetric | PrometheusMetric, canary: Canary, namespace: str) -> dict[str, Any]:
    if isinstance(metric, PrometheusMetric):
        return {"prometheus": {"address": metric.address, "query": metric.query}}
    host = f"{canary.canary_service}.{namespace}.svc.cluster.local"
    return {
        "web": {
            "url": f"http://{host}:{metric.port}{metric.path}",
            "jsonPath": metric.json_path,
            "timeoutSeconds": metric.timeout_seconds,
        }
    }


def analysis_template(canary: Canary, namespace: str) -> dict[str, Any]:
    """The AnalysisTemplate every analysis step of `canary` runs, in the Rollout's namespace."""
    if canary.analysis is None:
        raise InputError(f"{canary.project} has no analysis section", hint="add one, or declare no template")
    analysis = canary.analysis
    metric: dict[str, Any] = {
        "name": "canary-health" if isinstance(analysis.metric, WebMetric) else "canary-query",
        "interval": analysis.interval,
        "count": analysis.count,
        "failureLimit": analysis.failure_limit,
        "inconclusiveLimit": analysis.inconclusive_limit,
        "consecutiveErrorLimit": analysis.consecutive_error_limit,
        "successCondition": analysis.metric.success_condition,
        "provider": _provider(analysis.metric, canary, namespace),
    }
    if analysis.metric.failure_condition is not None:
        metric["failureCondition"] = analysis.metric.failure_condition
    return {
        "apiVersion": ROLLOUTS_API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": {
            "name": canary.template_name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": canary.application},
        },
        "spec": {"args": [{"name": CANARY_HASH_ARG}], "metrics": [metric]},
    }
