"""The health gate of an app that rolls out by canary: poll the Application and its Rollout, abort on failure.

Each poll reads the Application (Argo CD), the Rollout in the Application's destination
namespace, and the AnalysisRun of the current step, and asks pipelines.health.rollout
what they mean; pipelines.health.poll polls (each change of step, weight, analysis phase or
reason is said at once, on stderr). When the canary fails (a Failed/Error analysis, a Degraded Rollout, an
inconclusive analysis unless allowed, a failed sync) or the time is up while the Rollout
runs the new digest, the gate aborts the Rollout with its own short deadline, so that the
release's rollback finds the stable pods serving. The reads and the abort go through
pipelines.health.kube.cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.core.errors import NotFound, PipelineError
from pipelines.edges import clock
from pipelines.edges.retry import Deadline, Retrier, RetryPolicy
from pipelines.health.poll import Reading, poll
from pipelines.health.rollout import CanaryVerdict, follow
from pipelines.health.verdict import State, Verdict, judge

if TYPE_CHECKING:
    from pipelines.health.kube.cluster import Cluster

# The abort gets its own time: it matters most when the gate's deadline has just run out.
ABORT_SECONDS = 30.0


@dataclass(frozen=True)
class CanaryWatch:
    """What to follow: the Application, its Rollout, the digest, and whether inconclusive aborts."""

    app: str
    namespace: str  # where Argo CD keeps the Application
    rollout: str
    digest: str
    abort_on_inconclusive: bool
    timeout: float
    interval: float


@dataclass(frozen=True)
class CanaryOutcome:
    outcome: str  # healthy | failed | timeout
    application: Verdict
    canary: CanaryVerdict
    rollout_namespace: str | None
    note: str | None = None
    abort: str | None = None  # what became of the gate's abort: sent, failed: ..., or None (not needed)

    @property
    def reason(self) -> str:
        return self.note or self.canary.reason


def _destination(application: Mapping[str, Any]) -> str | None:
    spec = application.get("spec")
    destination = spec.get("destination") if isinstance(spec, Mapping) else None
    namespace = destination.get("namespace") if isinstance(destination, Mapping) else None
    return namespace if isinstance(namespace, str) and namespace else None


def _read(cluster: Cluster, watch: CanaryWatch) -> tuple[Verdict, CanaryVerdict, str | None]:
    application = cluster.get_application(watch.namespace, watch.app)
    verdict = judge(application, watch.digest)
    namespace = _destination(application)
    rollout = run = None
    if namespace is not None:
        try:
            rollout = cluster.get_rollout(namespace, watch.rollout)
        except NotFound:
            rollout = None  # not created yet (the first sync), or the manifests lack it: the timeout says so
        status = rollout.get("status") if rollout else None
        canary = status.get("canary") if isinstance(status, Mapping) else None
        current = canary.get("currentStepAnalysisRunStatus") if isinstance(canary, Mapping) else None
        name = current.get("name") if isinstance(current, Mapping) else None
        if isinstance(name, str) and name:
            try:
                run = cluster.get_analysis_run(namespace, name)
            except NotFound:
                run = None  # replaced by the next step's run between the two reads; the status still has its phase
    followed = follow(verdict, rollout, run, watch.digest, abort_on_inconclusive=watch.abort_on_inconclusive)
    return verdict, followed, namespace


def _abort(cluster: Cluster, namespace: str, rollout: str, say: Callable[[str], None]) -> str:
    waits = clock.current()
    deadline = Deadline(ABORT_SECONDS, waits.monotonic)
    policy = RetryPolicy(max_time=ABORT_SECONDS, max_attempts=10, base_delay=0.5, max_delay=5.0)
    try:
        cluster.abort_rollout(namespace, rollout, Retrier(policy, deadline, sleep=waits.sleep, say=say))
    except PipelineError as error:
        say(f"error: could not abort Rollout {rollout}: {error.message}\n  hint: {error.hint}")
        return f"failed: {error.message}"
    say(f"aborted Rollout {rollout} in namespace {namespace} (status.abort=true): its stable pods serve again")
    return "sent"


def watch_canary(cluster: Cluster, watch: CanaryWatch, deadline: Deadline, say: Callable[[str], None]) -> CanaryOutcome:
    """Follow the canary until it is healthy, fails or the deadline passes; abort it when it must stop."""

    def read() -> Reading[tuple[Verdict, CanaryVerdict, str | None]]:
        state = _read(cluster, watch)
        canary = state[1]
        return Reading(state, f"{canary.step_line} - {canary.reason}", canary.reason, canary.final)

    timed_out = f"the canary did not finish healthy with {watch.digest} within {watch.timeout:g}s"
    polled = poll(read, app=watch.app, interval=watch.interval, deadline=deadline, timed_out=timed_out, say=say)
    note = polled.note
    application, canary, namespace = polled.last
    outcome = canary.state.value if note is None else "timeout"
    must_abort = canary.abort if outcome == State.FAILED.value else False
    if outcome == "timeout":  # abort only a Rollout that runs this digest: another revision's canary is not ours
        must_abort = canary.step is not None and not canary.aborted
    abort = _abort(cluster, namespace, watch.rollout, say) if must_abort and namespace else None
    return CanaryOutcome(outcome, application, canary, namespace, note, abort)
