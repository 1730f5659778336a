"""`wait-healthy`: the deploy's health gate, polling an Argo CD Application until it runs the new digest.

The rule (pipelines.health.verdict) decides from each Application object; this module polls
through pipelines.health.kube.cluster, reports state changes on stderr and the outcome on stdout.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import add_command, positive_seconds
from pipelines.core.catalog import Project, image_projects, project_for_application
from pipelines.core.digests import DIGEST_FORM
from pipelines.core.errors import InputError
from pipelines.core.names import DNS_LABEL
from pipelines.deploy.canary import CANARY_KEY, Canary, parse_canaries
from pipelines.edges import clock
from pipelines.health.poll import Reading, poll
from pipelines.health.verdict import State, Verdict, judge, parse_digest
from pipelines.output import actions_outputs, emit, progress

if TYPE_CHECKING:
    from pipelines.edges.retry import Deadline
    from pipelines.health.canary_gate import CanaryOutcome
    from pipelines.health.kube.cluster import Cluster

DEFAULT_NAMESPACE = "argocd"
DEFAULT_TIMEOUT = 600.0
DEFAULT_INTERVAL = 5.0
# The longest wait between two retries of a failed read.
MAX_BACKOFF = 10.0


@dataclass(frozen=True)
class WaitHealthyRequest:
    app: str
    digest: str
    timeout: float
    interval: float
    namespace: str
    kubeconfig: Path | None
    context: str | None
    stack_config: Path | None
    json: bool


@dataclass(frozen=True)
class GateResult:
    """How the wait ended: healthy, failed (Degraded or a failed sync) or timeout."""

    app: str
    namespace: str
    project: str
    digest: str
    outcome: str
    verdict: Verdict
    elapsed: float
    note: str | None = None
    canary: CanaryOutcome | None = None
    rollout: str | None = None

    def to_dict(self) -> dict[str, Any]:
        fields = self.verdict.to_dict()
        canary = self.canary
        return {
            "app": self.app,
            "namespace": self.namespace,
            "project": self.project,
            "digest": self.digest,
            "outcome": self.outcome,
            "failure": fields["failure"],
            "reason": self.note or fields["reason"],
            "sync": fields["sync"],
            "health": fields["health"],
            "health_message": fields["health_message"],
            "operation_phase": fields["operation_phase"],
            "operation_message": fields["operation_message"],
            "conditions": fields["conditions"],
            "unhealthy_resources": fields["unhealthy_resources"],
            "running_images": fields["running_images"],
            "elapsed_seconds": round(self.elapsed, 1),
            "canary": None
            if canary is None
            else {
                "rollout": self.rollout,
                "rollout_namespace": canary.rollout_namespace,
                "abort": canary.abort,
                **canary.canary.to_dict(),
            },
        }


def _watch(
    cluster: Cluster, request: WaitHealthyRequest, project: Project, digest: str, deadline: Deadline
) -> GateResult:
    def read() -> Reading[Verdict]:
        verdict = judge(cluster.get_application(request.namespace, request.app), digest)
        return Reading(verdict, f"{verdict.status_line} - {verdict.reason}", verdict.reason, verdict.final)

    timed_out = f"not Synced and Healthy with {digest} within {request.timeout:g}s"
    polled = poll(
        read, app=request.app, interval=request.interval, deadline=deadline, timed_out=timed_out, say=progress
    )
    last = polled.last
    outcome = last.state.value if polled.note is None else "timeout"
    return GateResult(
        request.app, request.namespace, project.name, digest, outcome, last, deadline.elapsed(), polled.note
    )


@contextmanager
def _stopped_as_exit() -> Iterator[None]:
    """Let SIGTERM (a cancelled CI job) end the gate like an error would, running every `finally` on the
    way out, so the key material the Kubernetes client wrote to the temp folder is removed."""

    def leave(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _watch_canary(
    cluster: Cluster, request: WaitHealthyRequest, project: Project, canary: Canary, digest: str, deadline: Deadline
) -> GateResult:
    from pipelines.health.canary_gate import CanaryWatch, watch_canary

    watch = CanaryWatch(
        request.app,
        request.namespace,
        canary.rollout,
        digest,
        canary.abort_on_inconclusive,
        request.timeout,
        request.interval,
    )
    outcome = watch_canary(cluster, watch, deadline, progress)
    note = None if outcome.outcome == State.HEALTHY.value else outcome.reason
    return GateResult(
        request.app,
        request.namespace,
        project.name,
        digest,
        outcome.outcome,
        outcome.application,
        deadline.elapsed(),
        note,
        outcome,
        canary.rollout,
    )


def _canary_of(request: WaitHealthyRequest, project: Project) -> Canary | None:
    """The project's entry of the stack file's canary section: None without --stack-config or an entry."""
    if request.stack_config is None:
        return None
    from pipelines.deploy.write_back import StackFile  # YAML, only for a gate given --stack-config

    canary = parse_canaries(StackFile(request.stack_config).config_value(CANARY_KEY)).get(project.name)
    if canary is not None and canary.minimum_seconds >= request.timeout:
        raise InputError(
            f"--timeout {request.timeout:g} is shorter than the canary of {project.name}: its pauses and analyses "
            f"take at least {canary.minimum_seconds}s",
            hint=f"pass --timeout {canary.minimum_seconds + 300} or more (deploy.yml gives the canary 1500s)",
        )
    return canary


def _canary_lines(result: GateResult) -> list[str]:
    if result.canary is None:
        return []
    canary = result.canary.canary
    lines = [f"  rollout    {result.rollout} ({canary.step_line})"]
    if canary.analysis is not None:
        lines.append(f"  analysis   {canary.analysis.name}: {canary.analysis.phase or '-'}")
        if canary.analysis.message:
            lines.append(f"             {canary.analysis.message}")
    if result.canary.abort == "sent":
        lines.append(f"  abort      the gate aborted Rollout {result.rollout}: the stable ReplicaSet serves again")
    elif result.canary.abort:
        lines.append(
            f"  abort      {result.canary.abort} (abort by hand: kubectl argo rollouts abort {result.rollout})"
        )
    elif canary.aborted:
        lines.append("  abort      the Rollout was already aborted")
    return lines


def _describe(result: GateResult) -> str:
    verdict = result.verdict
    if result.outcome == State.HEALTHY.value:
        through = f", every canary step passed ({result.rollout} stable)" if result.canary else ""
        return f"{result.app} is Synced and Healthy with {result.digest}{through} (after {result.elapsed:.1f}s)"
    headline = "TIMED OUT" if result.outcome == "timeout" else "FAILED"
    lines = [
        f"{result.app} {headline} after {result.elapsed:.1f}s: {result.note or verdict.reason}",
        *_canary_lines(result),
        f"  sync       {verdict.sync or '-'}",
        f"  health     {verdict.health or '-'}" + (f"  ({verdict.health_message})" if verdict.health_message else ""),
    ]
    if verdict.operation_phase:
        lines.append(
            f"  operation  {verdict.operation_phase}"
            + (f": {verdict.operation_message}" if verdict.operation_message else "")
        )
    lines.append(f"  images     {', '.join(verdict.running_images) or '-'}")
    lines.append("  conditions" + ("" if verdict.conditions else "  -"))
    lines += [f"    {condition.type}: {condition.message}" for condition in verdict.conditions]
    if verdict.unhealthy_resources:
        lines.append("  unhealthy resources")
        lines += [f"    {resource.label}" for resource in verdict.unhealthy_resources]
    return "\n".join(lines)


def _wait_healthy(request: WaitHealthyRequest) -> int:
    project = project_for_application(request.app)
    digest = parse_digest(request.digest)
    if not DNS_LABEL.fullmatch(request.namespace):
        raise InputError(f"--namespace {request.namespace!r} is not a Kubernetes namespace name", hint="e.g. argocd")
    canary = _canary_of(request, project)
    from pipelines.edges.retry import Deadline, Retrier, RetryPolicy
    from pipelines.health.kube.cluster import import_client, open_cluster

    import_client()  # --timeout is for the cluster (credentials included), not for our own start-up
    waits = clock.current()
    deadline = Deadline(request.timeout, waits.monotonic)
    # The deadline, not a count of attempts, ends the gate's retries; the first waits are short when polling is.
    policy = RetryPolicy(
        max_time=request.timeout, max_attempts=sys.maxsize, base_delay=min(request.interval, 1.0), max_delay=MAX_BACKOFF
    )
    with (
        _stopped_as_exit(),
        open_cluster(
            request.kubeconfig, request.context, Retrier(policy, deadline, sleep=waits.sleep, say=progress)
        ) as cluster,
    ):
        progress(
            f"waiting up to {request.timeout:g}s for {request.app} ({project.name}) in namespace {request.namespace} "
            f"to be Synced and Healthy with {digest}; reading {cluster.server} as {cluster.origin}"
            + (f"; following the canary of Rollout {canary.rollout}" if canary else "")
        )
        if canary is None:
            result = _watch(cluster, request, project, digest, deadline)
        else:
            result = _watch_canary(cluster, request, project, canary, digest, deadline)
    emit(request.json, result.to_dict(), _describe(result))
    # deploy.yml rolls back on outcome failed or timeout only: an unreadable app writes no outcome.
    actions_outputs({"outcome": result.outcome}, f"Health gate `{request.app}` with `{digest}`: **{result.outcome}**\n")
    if result.outcome == State.HEALTHY.value:
        return 0
    progress(
        f"error: {request.app} did not become healthy with {digest} ({result.outcome})\n"
        f"  hint: roll back with `python -m pipelines rollback {project.name}`, then `pulumi up --stack prod`"
    )
    return 1


def register(subcommands: Any) -> None:
    apps = ", ".join(str(project.argocd_application) for project in image_projects())
    parser = add_command(
        subcommands,
        "wait-healthy",
        summary="the deploy's health gate: wait until an Argo CD app is Synced and Healthy with a digest",
        description="Poll the Argo CD Application APP through the Kubernetes API until it is Synced and Healthy\n"
        "with the image index digest D: Argo CD lists D among the running images (status.summary.images)\n"
        "or compared the cluster against a source pinning D. Fails early when, on that revision, the app\n"
        "turns Degraded or its sync operation ends Failed/Error; a Degraded state of the previous revision\n"
        "does not count. Credentials as kubectl finds them: --kubeconfig, $KUBECONFIG, ~/.kube/config,\n"
        "else the pod's service account. It only needs `get` on applications.argoproj.io.\n\n"
        "With --stack-config, an app with a canary entry is followed through its Argo Rollouts Rollout:\n"
        "each step (i/n, weight, analysis phase) is reported as it happens; a Failed/Error analysis, a\n"
        "Degraded Rollout, an inconclusive analysis (unless allowed) or the timeout aborts the Rollout\n"
        "(patch rollouts/status) and exits 1. It then also needs `get` on rollouts and analysisruns.\n\n"
        "Exit 0 healthy; 1 failed or timed out (stdout shows the Application's conditions; --json has\n"
        "outcome healthy|failed|timeout), or the app could not be read; 2 bad input.",
        request=WaitHealthyRequest,
        run=_wait_healthy,
        examples="  python -m pipelines wait-healthy percolate-api --digest sha256:<64 hex> --timeout 600\n"
        '  python -m pipelines wait-healthy percolate-reading --digest "$DIGEST" --context prod --json\n'
        '  python -m pipelines wait-healthy percolate-reading --digest "$DIGEST" --stack-config Pulumi.prod.yaml '
        "--timeout 1500",
    )
    parser.add_argument(
        "app", metavar="APP", help=f"an Argo CD application of the catalog: {apps}, or its staging one (APP-staging)"
    )
    parser.add_argument("--digest", required=True, metavar="D", help=f"the image index digest deployed, {DIGEST_FORM}")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"give up after S seconds (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--interval",
        type=positive_seconds,
        default=DEFAULT_INTERVAL,
        metavar="S",
        help=f"poll every S seconds (default {DEFAULT_INTERVAL:g})",
    )
    parser.add_argument(
        "--namespace",
        default=DEFAULT_NAMESPACE,
        metavar="NS",
        help=f"where Argo CD keeps its Applications (default {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--kubeconfig", type=Path, metavar="FILE", help="the kubeconfig (default: $KUBECONFIG, else ~/.kube/config)"
    )
    parser.add_argument("--context", metavar="NAME", help="the kubeconfig context (default: its current-context)")
    parser.add_argument(
        "--stack-config",
        type=Path,
        metavar="FILE",
        help=f"the stack file whose {CANARY_KEY} section says whether APP rolls out by canary steps; "
        "then the gate follows its Rollout step by step and aborts it on failure (docs/canary.md)",
    )
