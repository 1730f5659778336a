"""Preflight's look at one stack's cluster: reachable through its kubeconfig, and serving the CRDs we use.

Through the health gate's own edge (pipelines.health.kube.cluster: the official client, its credentials,
deadlines and error mapping), it reads the CustomResourceDefinitions of Argo CD (the Applications and
the AppProject the program declares) and, when the stack configures a canary, of Argo Rollouts (the
Rollout the gate follows, the AnalysisTemplate the program declares). Three results: `clusters.STACK`
(the first read answered), `clusters.STACK.argocd` and `clusters.STACK.rollouts`; the rules that judge
what was read are in pipelines.plan.preflight_rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipelines.core.errors import InputError, NotFound, PipelineError
from pipelines.edges.retry import Deadline, Retrier, RetryPolicy
from pipelines.health.kube.cluster import ARGOCD_VERSION, Cluster, import_client, open_cluster
from pipelines.health.kube.kubeconfig import kubeconfig_files
from pipelines.plan.preflight import STAGING_STACK, CheckResult, StackFacts, failed, passed, skipped
from pipelines.plan.preflight_rules import ARGOCD_CRDS, ROLLOUTS_CRDS, argocd_fix, judge_crds, rollouts_fix

# A preflight waits on a cluster only briefly: a few tries, then it says what is wrong.
MAX_ATTEMPTS = 3
PROD_FIX = (
    "set KUBECONFIG (or pass --kubeconfig) to the prod cluster's kubeconfig, the content of the secret KUBECONFIG"
)
STAGING_FIX = (
    "set STAGING_KUBECONFIG (or pass --staging-kubeconfig) to the path of the staging cluster's kubeconfig, the "
    "content of the staging environment's secret STAGING_KUBECONFIG (Actions hands it to RC tags' jobs only)"
)


def check_stack_cluster(
    stack: str,
    kubeconfig: Path | None,
    context: str | None,
    facts: StackFacts | None,
    timeout: float,
    *,
    environ: Mapping[str, str],
    say: Callable[[str], None],
) -> list[CheckResult]:
    """The results of the cluster of `stack`: through `kubeconfig` when given, else prod's as kubectl finds it and
    staging's at $STAGING_KUBECONFIG (never kubectl's default: that is prod's); skipped when there is none."""
    name = f"clusters.{stack}"
    source = _source(name, stack, kubeconfig, environ)
    if isinstance(source, CheckResult):
        why = f"no cluster to read ({name} {source.status.value})"
        return [source, skipped(f"{name}.argocd", why), skipped(f"{name}.rollouts", why)]
    path, environment = source
    return check_cluster(stack, path, context, facts, timeout, environ=environment, say=say)


def _source(
    name: str, stack: str, kubeconfig: Path | None, environ: Mapping[str, str]
) -> tuple[Path | None, Mapping[str, str]] | CheckResult:
    """(the kubeconfig, the environment kubectl's rules read), or the result when there is none to use."""
    if kubeconfig is not None:
        return kubeconfig, {}
    if stack == STAGING_STACK:
        given = environ.get("STAGING_KUBECONFIG")
        if not given:
            return skipped(name, "no kubeconfig for the staging cluster", STAGING_FIX)
        if "\n" in given or not Path(given).is_file():
            # Never echoed: it may be the kubeconfig's content (and its token) rather than a path.
            return failed(name, "STAGING_KUBECONFIG does not name a kubeconfig file", STAGING_FIX)
        return Path(given), {}
    try:
        files = kubeconfig_files(None, environ, Path.home())
    except InputError as error:
        return failed(name, error.message, error.hint)
    if not files and not environ.get("KUBERNETES_SERVICE_HOST"):
        return skipped(name, "no kubeconfig for the prod cluster (KUBECONFIG, ~/.kube/config)", PROD_FIX)
    return None, environ


def check_cluster(
    stack: str,
    kubeconfig: Path | None,
    context: str | None,
    facts: StackFacts | None,
    timeout: float,
    *,
    environ: Mapping[str, str],
    say: Callable[[str], None],
) -> list[CheckResult]:
    """The results of the cluster of `stack`, read through `kubeconfig` (kubectl's rules over `environ` when None)."""
    name = f"clusters.{stack}"
    rollouts = rollouts_fix(f"{name}.rollouts", facts)
    import_client()  # the time limit is for the cluster, not for importing its client
    retrier = Retrier(RetryPolicy(max_time=timeout, max_attempts=MAX_ATTEMPTS), Deadline(timeout), say=say)
    try:
        cluster = open_cluster(kubeconfig, context, retrier, environ=environ)
    except PipelineError as error:
        return _unreachable(
            name, f"the kubeconfig of the {stack} cluster cannot be used: {error.message}", error, rollouts
        )
    with cluster:
        where = f"{cluster.server} ({cluster.origin})"
        say(f"reading the CRDs of the {stack} cluster at {where}")
        wanted = ARGOCD_CRDS + (ROLLOUTS_CRDS if isinstance(rollouts, str) else ())
        found: dict[str, dict[str, Any] | None] = {}
        try:
            found[wanted[0]] = _crd(cluster, wanted[0])
        except PipelineError as error:
            return _unreachable(name, f"{where}: {error.message}", error, rollouts)
        results = [passed(name, f"{where} answers as the kubeconfig's identity")]
        try:
            found.update((crd, _crd(cluster, crd)) for crd in wanted[1:])
        except PipelineError as error:
            return [
                *results,
                failed(f"{name}.argocd", error.message, error.hint),
                *_rollouts_after(rollouts, name, error),
            ]
    label = f"the {stack} cluster"
    argocd = {crd: found[crd] for crd in ARGOCD_CRDS}
    results.append(judge_crds(f"{name}.argocd", label, argocd, ARGOCD_VERSION, argocd_fix(facts)))
    if isinstance(rollouts, str):
        reads = {crd: found[crd] for crd in ROLLOUTS_CRDS}
        results.append(judge_crds(f"{name}.rollouts", label, reads, ARGOCD_VERSION, rollouts))
    else:
        results.append(rollouts)
    return results


def _crd(cluster: Cluster, name: str) -> dict[str, Any] | None:
    try:
        return cluster.get_crd(name)
    except NotFound:
        return None


def _unreachable(name: str, detail: str, error: PipelineError, rollouts: CheckResult | str) -> list[CheckResult]:
    why = f"{name} failed: nothing could be read"
    return [
        failed(name, detail, error.hint),
        skipped(f"{name}.argocd", why),
        rollouts if isinstance(rollouts, CheckResult) else skipped(f"{name}.rollouts", why),
    ]


def _rollouts_after(rollouts: CheckResult | str, name: str, error: PipelineError) -> list[CheckResult]:
    if isinstance(rollouts, CheckResult):
        return [rollouts]
    return [skipped(f"{name}.rollouts", f"reading the CRDs stopped: {error.message}", error.hint)]
