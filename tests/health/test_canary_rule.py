"""The canary rule over recorded Rollout/AnalysisRun status sequences: progress, success, and when to abort."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kit.rollouts import NEW_HASH, OLD_HASH, make_analysis_run, make_rollout
from pipelines.health.rollout import follow
from pipelines.health.verdict import State, judge

RUN = "percolate-reading-6d4f8b9c7d-7-2"
_STATUS_KEYS = [
    "phase", "abort", "stableRS", "currentPodHash", "currentStepIndex", "observedGeneration", "pauseConditions",
    "reason", "canary", "currentStepAnalysisRunStatus", "name", "status", "weights", "weight", "steps", "message",
    "metricResults", "measurements", "metadata",
]  # fmt: skip


@pytest.fixture
def app(application, names):
    """The Application's verdict: Synced with the new digest, in the health Argo CD reports."""

    def verdict(health="Progressing", **changes):
        return judge(application(health=health, compared=names.new, running=(names.new,), **changes), names.new)

    return verdict


def test_a_healthy_progression_is_followed_step_by_step_to_success(app, names):
    new = names.new
    recorded = [
        (app(), make_rollout(new, step=0), None),
        (app("Suspended"), make_rollout(new, step=1, phase="Paused", pause="CanaryPauseStep"), None),
        (app(), make_rollout(new, step=2, analysis=(RUN, "Running")), make_analysis_run(RUN, "Running", successful=1)),
        (app(), make_rollout(new, step=3, analysis=(RUN, "Successful")), make_analysis_run(RUN, "Successful")),
        (app("Suspended"), make_rollout(new, step=4, phase="Paused", pause="CanaryPauseStep"), None),
        (app(), make_rollout(new, step=5, phase="Progressing"), None),
        (app("Healthy"), make_rollout(new, step=5, phase="Healthy", stable=NEW_HASH), None),
    ]
    verdicts = [follow(application, rollout, run, new) for application, rollout, run in recorded]
    assert [v.state for v in verdicts] == [State.WAITING] * 6 + [State.HEALTHY]
    assert not any(v.abort for v in verdicts)
    assert [(v.step, v.weight) for v in verdicts] == [(1, 20), (2, 20), (3, 20), (4, 50), (5, 50), (6, 100), (6, 100)]
    assert verdicts[0].step_line == "step 1/5 (setWeight 20), weight 20%, rollout Progressing"
    assert verdicts[1].step_line == "step 2/5 (pause 1m), weight 20%, rollout Paused"
    assert "Suspended" in verdicts[1].reason  # Argo CD's Suspended during a pause step is progress
    assert verdicts[2].step_line == f"step 3/5 (analysis), weight 20%, analysis {RUN} Running, rollout Progressing"
    assert verdicts[5].step_line.startswith("step 5/5 (done), weight 100%")
    assert f"Healthy with {new} stable ({NEW_HASH})" in verdicts[-1].reason


def test_stable_rs_equal_to_the_pod_hash_is_needed_besides_phase_healthy(app, names):
    not_yet = follow(app("Healthy"), make_rollout(names.new, step=5, phase="Healthy", stable=OLD_HASH), None, names.new)
    assert not_yet.state is State.WAITING and f"{NEW_HASH} is not the stable one ({OLD_HASH})" in not_yet.reason
    app_behind = follow(
        app("Progressing"), make_rollout(names.new, step=5, phase="Healthy", stable=NEW_HASH), None, names.new
    )
    assert app_behind.state is State.WAITING and "the Application" in app_behind.reason


def test_a_failed_analysis_fails_and_asks_for_an_abort_with_the_metric_that_failed(app, names):
    run = make_analysis_run(RUN, "Failed", failed=2, successful=1, value="degraded")
    verdict = follow(app(), make_rollout(names.new, step=2, analysis=(RUN, "Failed")), run, names.new)
    assert (verdict.state, verdict.abort, verdict.failure) == (State.FAILED, True, "analysis-failed")
    assert verdict.reason == (
        f"analysis {RUN} Failed (metric canary-health Failed (failed 2, successful 1): value degraded)"
    )
    error = follow(app(), make_rollout(names.new, step=2, analysis=(RUN, "Error")), None, names.new)
    assert (error.state, error.abort, error.analysis.phase) == (State.FAILED, True, "Error")


def test_a_rollout_the_controller_already_aborted_fails_without_a_second_abort(app, names):
    rollout = make_rollout(
        names.new,
        step=2,
        phase="Degraded",
        abort=True,
        analysis=(RUN, "Failed"),
        message='RolloutAborted: Rollout aborted update to revision 7: Metric "canary-health" assessed Failed',
    )
    verdict = follow(app("Degraded"), rollout, make_analysis_run(RUN, "Failed", failed=1), names.new)
    assert (verdict.state, verdict.abort, verdict.aborted) == (State.FAILED, False, True)
    by_hand = follow(app(), make_rollout(names.new, step=1, abort=True, message="aborted by hand"), None, names.new)
    assert (by_hand.state, by_hand.failure, by_hand.abort) == (State.FAILED, "aborted", False)
    assert "aborted by hand" in by_hand.reason


@pytest.mark.parametrize("signal", ["phase", "pause condition"])
def test_inconclusive_aborts_unless_configured_otherwise(app, names, signal):
    if signal == "phase":
        rollout = make_rollout(names.new, step=2, phase="Paused", analysis=(RUN, "Inconclusive"))
    else:
        rollout = make_rollout(names.new, step=2, phase="Paused", pause="InconclusiveAnalysisRun")
    aborts = follow(app("Suspended"), rollout, None, names.new)
    assert (aborts.state, aborts.abort, aborts.failure) == (State.FAILED, True, "analysis-inconclusive")
    waits = follow(app("Suspended"), rollout, None, names.new, abort_on_inconclusive=False)
    assert (waits.state, waits.abort) == (State.WAITING, False)
    assert "kubectl argo rollouts promote percolate-reading" in waits.reason


def test_a_degraded_rollout_fails_and_asks_for_an_abort(app, names):
    rollout = make_rollout(names.new, step=0, phase="Degraded", message="ProgressDeadlineExceeded: stuck")
    verdict = follow(app(), rollout, None, names.new)
    assert (verdict.state, verdict.abort, verdict.failure) == (State.FAILED, True, "degraded")
    assert verdict.reason == "the Rollout is Degraded: ProgressDeadlineExceeded: stuck"


def test_a_stuck_rollout_keeps_waiting_without_an_abort(app, names):
    """Stuck is not a verdict of the rule: it waits, and the gate's timeout decides (and aborts)."""
    rollout = make_rollout(names.new, step=0, phase="Progressing", message="more replicas need to be updated")
    verdicts = [follow(app(), rollout, None, names.new) for _ in range(3)]
    assert {(v.state, v.abort, v.step) for v in verdicts} == {(State.WAITING, False, 1)}


def test_a_rollout_running_another_image_is_not_judged_nor_aborted(app, names):
    rollout = make_rollout(names.old, step=1, phase="Degraded", message="the previous release's trouble")
    verdict = follow(app(), rollout, make_analysis_run(RUN, "Failed"), names.new)
    assert (verdict.state, verdict.abort, verdict.step) == (State.WAITING, False, None)
    assert f"does not run {names.new} yet" in verdict.reason
    assert verdict.step_line == "step -, rollout Degraded"


def test_a_generation_not_observed_yet_keeps_waiting(app, names):
    behind = make_rollout(names.new, phase="Degraded", generation=8, observed="7")
    verdict = follow(app(), behind, None, names.new)
    assert (verdict.state, verdict.abort) == (State.WAITING, False)
    assert "has not observed generation 8 yet (observed 7)" in verdict.reason
    never = follow(app(), make_rollout(names.new, observed=None), None, names.new)
    assert never.state is State.WAITING and "observed None" in never.reason


def test_no_rollout_yet_keeps_waiting_and_a_failed_sync_fails(app, application, names):
    assert follow(app(), None, None, names.new).reason == "the Rollout does not exist yet"
    failed_sync = judge(
        application(
            sync="OutOfSync", compared=names.old, running=(names.old,), phase="Failed", synced_digest=names.new
        ),
        names.new,
    )
    verdict = follow(failed_sync, make_rollout(names.new, step=0), None, names.new)
    assert (verdict.state, verdict.failure, verdict.abort) == (State.FAILED, "sync-failed", True)
    untouched = follow(failed_sync, make_rollout(names.old, step=0), None, names.new)
    assert (untouched.state, untouched.abort) == (State.FAILED, False)


def test_the_traffic_routers_weight_wins_over_the_replica_ratio(app, names):
    rollout = make_rollout(names.new, step=1, phase="Paused", pause="CanaryPauseStep")
    rollout["status"]["canary"]["weights"] = {"canary": {"weight": 15}, "stable": {"weight": 85}}
    assert follow(app("Suspended"), rollout, None, names.new).weight == 15


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 9) | st.sampled_from(["Healthy", "Degraded", "Paused", "7", "Failed"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_STATUS_KEYS), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=_JSON, spec=_JSON, run=_JSON)
def test_any_rollout_status_gives_a_verdict_and_never_aborts_another_revision(app, names, status, spec, run):
    rollout = make_rollout(names.old, step=1)
    rollout["status"], rollout["spec"]["strategy"] = status, spec
    verdict = follow(app(), rollout, run if isinstance(run, dict) else None, names.new)
    assert verdict.abort is False and verdict.step is None  # the template runs the old digest: not ours
    mine = make_rollout(names.new, step=1)
    mine["status"] = status
    verdict = follow(app(), mine, run if isinstance(run, dict) else None, names.new)
    assert verdict.state in (State.WAITING, State.FAILED, State.HEALTHY) and verdict.reason
    assert not verdict.abort or verdict.state is State.FAILED


_METRIC = st.fixed_dictionaries(
    {"phase": st.sampled_from(["Failed", "Error", "Inconclusive", "Successful", 3])},
    optional={"name": _JSON, "failed": _JSON, "measurements": st.lists(_JSON, max_size=3), "message": _JSON},
)
_RUN_STATUS = _JSON | st.fixed_dictionaries(
    {"phase": _JSON}, optional={"metricResults": st.lists(_METRIC | _JSON, max_size=3), "message": _JSON}
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(run_status=_RUN_STATUS)
@example(run_status={"phase": "Failed", "metricResults": [{"phase": "Failed", "measurements": [3]}]})
def test_any_analysis_run_status_is_read_without_error(app, names, run_status):
    rollout = make_rollout(names.new, step=2, analysis=(RUN, "Running"))
    run = {"kind": "AnalysisRun", "metadata": {"name": RUN}, "status": run_status}
    verdict = follow(app(), rollout, run, names.new)
    assert verdict.analysis is not None and verdict.analysis.name == RUN
    assert verdict.state in (State.WAITING, State.FAILED)
