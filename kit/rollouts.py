"""Argo Rollouts objects as the Kubernetes API returns them: the stand-in shapes of the canary gate's tests and
the demo's canary scene.

The shapes follow the Rollout and AnalysisRun CRDs of Argo Rollouts 1.9 (tests/support/crds):
`status.observedGeneration` is a string, `status.currentStepIndex` an integer, the current
step's run is `status.canary.currentStepAnalysisRunStatus` {name, status, message}, pauses are
`status.pauseConditions` [{reason, startTime}], and an aborted Rollout has `status.abort` true.
"""

from __future__ import annotations

from typing import Any

READING_REPOSITORY = "ghcr.io/percolation-labs/percolate-reading"
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {"duration": "1m"}},
    {
        "analysis": {
            "templates": [{"templateName": "percolate-reading-analysis"}],
            "args": [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
        }
    },
    {"setWeight": 50},
    {"pause": {"duration": "2m"}},
]
NEW_HASH = "6d4f8b9c7d"
OLD_HASH = "5c8b7f6d4e"


def make_rollout(
    digest: str,
    *,
    step: int = 0,
    phase: str = "Progressing",
    stable: str = OLD_HASH,
    pod_hash: str = NEW_HASH,
    generation: int = 7,
    observed: str | None = "7",
    pause: str | None = None,
    analysis: tuple[str, str] | None = None,
    abort: bool = False,
    message: str | None = None,
    steps: list[dict[str, Any]] | None = None,
    name: str = "percolate-reading",
    namespace: str = "percolate",
) -> dict[str, Any]:
    """A Rollout whose pod template runs `digest`, at `step` of `steps`, with the status fields given."""
    status: dict[str, Any] = {
        "currentPodHash": pod_hash,
        "stableRS": stable,
        "currentStepIndex": step,
        "currentStepHash": "7b9c5d8f6",
        "phase": phase,
        "replicas": 5,
        "readyReplicas": 5,
        "updatedReplicas": 1,
        "availableReplicas": 5,
        "selector": "app.kubernetes.io/name=percolate-reading",
        "canary": {},
    }
    if observed is not None:
        status["observedGeneration"] = observed
    if pause is not None:
        status["pauseConditions"] = [{"reason": pause, "startTime": "2025-11-20T10:00:00Z"}]
        status["controllerPause"] = True
    if analysis is not None:
        run, run_status = analysis
        status["canary"]["currentStepAnalysisRunStatus"] = {"name": run, "status": run_status}
    if abort:
        status["abort"] = True
        status["abortedAt"] = "2025-11-20T10:05:00Z"
    if message is not None:
        status["message"] = message
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace, "generation": generation, "resourceVersion": "4711"},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "percolate-reading"}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": "percolate-reading"}},
                "spec": {"containers": [{"name": "reading", "image": f"{READING_REPOSITORY}@{digest}"}]},
            },
            "strategy": {
                "canary": {
                    "canaryService": "percolate-reading-canary",
                    "stableService": "percolate-reading-stable",
                    "steps": STEPS if steps is None else steps,
                }
            },
        },
        "status": status,
    }


def make_analysis_run(
    name: str, phase: str, *, failed: int = 0, successful: int = 0, inconclusive: int = 0, value: str | None = None
) -> dict[str, Any]:
    """An AnalysisRun of the canary-health metric in `phase`, with its counts and a last measurement."""
    measurement: dict[str, Any] = {"phase": phase if phase != "Running" else "Successful"}
    if value is not None:
        measurement["value"] = value
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": "percolate"},
        "spec": {"metrics": [{"name": "canary-health", "provider": {"web": {"url": "http://x"}}}]},
        "status": {
            "phase": phase,
            "metricResults": [
                {
                    "name": "canary-health",
                    "phase": phase,
                    "count": failed + successful + inconclusive,
                    "failed": failed,
                    "successful": successful,
                    "inconclusive": inconclusive,
                    "measurements": [measurement],
                }
            ],
        },
    }
