"""The canary rule: follow an Argo Rollouts `Rollout` step by step, and say when the gate must abort it.

`follow` takes what the gate read (the Application's verdict, the `Rollout` object and the
AnalysisRun of the current step, as the Kubernetes API returns them) and answers waiting,
healthy or failed, with the step (i/n), the canary weight and the analysis phase for the
progress line, and whether the gate should abort the Rollout. It does no I/O.

The Rollout's status fields (argoproj.io/v1alpha1, Argo Rollouts 1.9): `status.observedGeneration`
(the generation as a string), `status.currentStepIndex`, `status.currentPodHash` (the pod-template
hash of the newest template), `status.stableRS` (the hash that is stable), `status.phase` (Healthy,
Progressing, Paused, Degraded), `status.abort`, `status.pauseConditions[].reason` (CanaryPauseStep,
InconclusiveAnalysisRun, ...), `status.canary.currentStepAnalysisRunStatus` ({name, status, message})
and `status.canary.weights.canary.weight` (only with a traffic router; otherwise the weight is the
replica ratio of the last setWeight step reached). AnalysisRun phases: Pending, Running,
Successful, Failed, Error, Inconclusive.

A step counts only once it is about the wanted digest: the controller observed the Rollout's
generation and its pod template runs the digest. Success is the Rollout Healthy with the
stable ReplicaSet being the current one, and the Application Synced and Healthy with the digest.
While a timed pause runs Argo CD shows the app Suspended: that is progress, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.health.verdict import State, Verdict, _get, _items, _mentions, _text

FAILED_ANALYSIS = frozenset({"Failed", "Error"})
INCONCLUSIVE = "Inconclusive"
INCONCLUSIVE_PAUSE = "InconclusiveAnalysisRun"
DEGRADED = "Degraded"
HEALTHY = "Healthy"


@dataclass(frozen=True)
class Analysis:
    """The AnalysisRun of the current step: its name, phase, and what its metrics said."""

    name: str
    phase: str | None
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "phase": self.phase, "message": self.message}


@dataclass(frozen=True)
class CanaryVerdict:
    """What the gate concludes from the Application and its Rollout."""

    state: State
    reason: str
    abort: bool  # the gate must abort the Rollout (it has not been aborted yet)
    failure: str | None
    step: int | None  # 1-based; None before the controller has reached the new template
    steps: int
    step_label: str | None
    weight: int | None
    analysis: Analysis | None
    rollout_phase: str | None
    aborted: bool

    @property
    def final(self) -> bool:
        return self.state is not State.WAITING

    @property
    def step_line(self) -> str:
        """`step 3/6 (pause 2m), weight 20%, analysis canary-x Running`: what a progress line shows."""
        if self.step is None:
            where = "step -"
        elif self.step > self.steps:
            where = f"step {self.steps}/{self.steps} (done)"
        else:
            where = f"step {self.step}/{self.steps} ({self.step_label})"
        weight = f", weight {self.weight}%" if self.weight is not None else ""
        analysis = f", analysis {self.analysis.name} {self.analysis.phase or 'Pending'}" if self.analysis else ""
        return f"{where}{weight}{analysis}, rollout {self.rollout_phase or 'unknown'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "reason": self.reason,
            "failure": self.failure,
            "step": self.step,
            "steps": self.steps,
            "step_label": self.step_label,
            "weight": self.weight,
            "analysis": self.analysis.to_dict() if self.analysis else None,
            "rollout_phase": self.rollout_phase,
            "aborted": self.aborted,
        }


def _label(step: Any) -> str:
    if not isinstance(step, Mapping) or not step:
        return "?"
    kind = next(iter(step))
    if kind == "setWeight":
        return f"setWeight {step[kind]}"
    if kind == "pause":
        duration = _get(step, "pause", "duration")
        return f"pause {duration}" if duration is not None else "pause (untimed)"
    return str(kind)


def _weight(steps: list[Any], index: int, status: Any) -> int | None:
    """The canary's weight: the traffic router's, else the last setWeight reached (replica ratio)."""
    routed = _get(status, "canary", "weights", "canary", "weight")
    if isinstance(routed, int) and not isinstance(routed, bool):
        return routed
    if index >= len(steps):
        return 100
    weights = [step["setWeight"] for step in steps[: index + 1] if isinstance(step, Mapping) and "setWeight" in step]
    return int(weights[-1]) if weights and isinstance(weights[-1], int) else 0


def _analysis(status: Any, run: Mapping[str, Any] | None) -> Analysis | None:
    current = _get(status, "canary", "currentStepAnalysisRunStatus")
    name = _text(_get(current, "name"))
    if name is None:
        return None
    if run is not None and _get(run, "metadata", "name") == name:
        return Analysis(name, _text(_get(run, "status", "phase")), _run_message(run))
    return Analysis(name, _text(_get(current, "status")), _text(_get(current, "message")))


def _run_message(run: Mapping[str, Any]) -> str | None:
    """The run's message, else each metric that did not succeed with its counts and last measurement."""
    parts = []
    for result in _items(_get(run, "status", "metricResults")):
        phase = _text(_get(result, "phase"))
        if phase in (None, "Successful", "Running", "Pending"):
            continue
        counts = ", ".join(
            f"{key} {result[key]}" for key in ("failed", "inconclusive", "error", "successful") if result.get(key)
        )
        last = (_items(_get(result, "measurements"))[-1:] or [{}])[0]
        value = last.get("value") if isinstance(last, Mapping) else None
        detail = _text(_get(last, "message")) or (f"value {value}" if value is not None else None)
        parts.append(
            f"metric {_get(result, 'name')} {phase}"
            + (f" ({counts})" if counts else "")
            + (f": {detail}" if detail else "")
        )
    message = _text(_get(run, "status", "message"))
    return "; ".join(([message] if message else []) + parts) or None


def follow(
    application: Verdict,
    rollout: Mapping[str, Any] | None,
    analysis_run: Mapping[str, Any] | None,
    digest: str,
    *,
    abort_on_inconclusive: bool = True,
) -> CanaryVerdict:
    """Waiting, healthy or failed: the gate's verdict on a canary app, and whether to abort its Rollout."""
    status = _get(rollout, "status")
    steps = _items(_get(rollout, "spec", "strategy", "canary", "steps"))
    index = _get(status, "currentStepIndex")
    index = index if isinstance(index, int) and not isinstance(index, bool) and index >= 0 else 0
    phase = _text(_get(status, "phase"))
    aborted = _get(status, "abort") is True
    message = _text(_get(status, "message"))
    generation = _get(rollout, "metadata", "generation")
    observed = _text(_get(status, "observedGeneration"))
    current = rollout is not None and generation is not None and observed == str(generation)
    runs_digest = _mentions(_get(rollout, "spec", "template", "spec", "containers"), digest)
    about_new = current and runs_digest
    analysis = _analysis(status, analysis_run) if about_new else None
    pauses = {_text(_get(item, "reason")) for item in _items(_get(status, "pauseConditions"))}

    def verdict(state: State, reason: str, *, abort: bool = False, failure: str | None = None) -> CanaryVerdict:
        return CanaryVerdict(
            state=state,
            reason=reason,
            abort=abort and not aborted,
            failure=failure,
            step=index + 1 if about_new else None,
            steps=len(steps),
            step_label=_label(steps[index]) if about_new and index < len(steps) else None,
            weight=_weight(steps, index, status) if about_new else None,
            analysis=analysis,
            rollout_phase=phase,
            aborted=aborted,
        )

    said = f": {message}" if message else ""
    if application.state is State.FAILED:
        return verdict(State.FAILED, application.reason, abort=about_new, failure=_failure_name(application))
    if rollout is None:
        return verdict(State.WAITING, "the Rollout does not exist yet")
    if not current:
        return verdict(
            State.WAITING, f"the Rollouts controller has not observed generation {generation} yet (observed {observed})"
        )
    if not runs_digest:
        return verdict(State.WAITING, f"the Rollout's pod template does not run {digest} yet")
    analysis_said = f" ({analysis.message})" if analysis and analysis.message else ""
    if analysis is not None and analysis.phase in FAILED_ANALYSIS:
        reason = f"analysis {analysis.name} {analysis.phase}{analysis_said}"
        return verdict(State.FAILED, reason, abort=True, failure="analysis-failed")
    if aborted:
        return verdict(State.FAILED, f"the Rollout was aborted{said}", failure="aborted")
    if phase == DEGRADED:
        return verdict(State.FAILED, f"the Rollout is Degraded{said}", abort=True, failure="degraded")
    inconclusive = (analysis is not None and analysis.phase == INCONCLUSIVE) or INCONCLUSIVE_PAUSE in pauses
    if inconclusive and abort_on_inconclusive:
        name = analysis.name if analysis else "the analysis"
        reason = f"analysis {name} Inconclusive{analysis_said}"
        return verdict(State.FAILED, reason, abort=True, failure="analysis-inconclusive")
    if inconclusive:
        rollout_name = _get(rollout, "metadata", "name")
        return verdict(
            State.WAITING,
            "analysis Inconclusive: the Rollout stays paused until a person promotes it "
            f"(kubectl argo rollouts promote {rollout_name}) or aborts it",
        )
    stable, pod_hash = _text(_get(status, "stableRS")), _text(_get(status, "currentPodHash"))
    if phase == HEALTHY and stable is not None and stable == pod_hash:
        if application.state is State.HEALTHY:
            return verdict(
                State.HEALTHY, f"the Rollout is Healthy with {digest} stable ({stable}); {application.reason}"
            )
        return verdict(State.WAITING, f"the Rollout is Healthy and stable; the Application: {application.reason}")
    if "CanaryPauseStep" in pauses:
        return verdict(State.WAITING, "paused by a timed pause step (Argo CD shows Suspended)")
    if phase == HEALTHY:
        return verdict(State.WAITING, f"the new ReplicaSet {pod_hash} is not the stable one ({stable}) yet")
    return verdict(State.WAITING, f"the Rollout is {phase or 'not reporting a phase yet'}{said}")


def _failure_name(application: Verdict) -> str:
    return application.failure.value if application.failure is not None else "failed"
