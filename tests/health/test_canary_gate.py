"""`wait-healthy --stack-config` following a canary, as deploy.yml runs it, against the loopback API stand-in.

The stand-in serves the Application, the Rollout and the AnalysisRuns of percolate-reading, and
records the abort: a PATCH of rollouts/status with the merge patch {"status":{"abort":true}}.
"""

from __future__ import annotations

import json

import pytest
import yaml

from kit.rollouts import NEW_HASH, make_analysis_run, make_rollout

APP = "percolate-reading"
RUN = "percolate-reading-6d4f8b9c7d-7-3"
STATUS_PATH = "/apis/argoproj.io/v1alpha1/namespaces/percolate/rollouts/percolate-reading/status"


@pytest.fixture
def stack_file(tmp_path):
    def write(**canary_changes):
        canary = {
            "steps": [{"setWeight": 20}, {"pause": "1s"}, {"analysis": True}, {"setWeight": 50}, {"pause": "1s"}],
            "analysis": {"count": 1},
            **canary_changes,
        }
        path = tmp_path / "Pulumi.prod.yaml"
        path.write_text(yaml.safe_dump({"config": {"percolate-platform:canary": {APP: canary}}}))
        return str(path)

    return write


@pytest.fixture
def reading(gate, application, names):
    """Script the Application and the Rollout of percolate-reading: (app health, rollout) pairs in order."""

    def script(*states, runs=()):
        gate.api.script(
            *(application(health=health, compared=names.new, running=(names.new,), name=APP) for health, _ in states),
            app=APP,
        )
        gate.api.script_object("rollouts", *(rollout for _, rollout in states), name=APP)
        if runs:  # the current step's AnalysisRun, as it is read poll after poll
            gate.api.script_object("analysisruns", *runs, name=runs[0]["metadata"]["name"])

    return script


def _abort_requests(api):
    return [request for request in api.requests if request["method"] == "PATCH"]


def test_a_canary_is_followed_through_every_step_to_success(gate, reading, stack_file, names, tmp_path):
    new = names.new
    reading(
        ("Progressing", make_rollout(new, step=0)),
        ("Suspended", make_rollout(new, step=1, phase="Paused", pause="CanaryPauseStep")),
        ("Progressing", make_rollout(new, step=2, analysis=(RUN, "Running"))),
        ("Progressing", make_rollout(new, step=3, analysis=(RUN, "Successful"))),
        ("Suspended", make_rollout(new, step=4, phase="Paused", pause="CanaryPauseStep")),
        ("Healthy", make_rollout(new, step=5, phase="Healthy", stable=NEW_HASH)),
        runs=(make_analysis_run(RUN, "Running", successful=1), make_analysis_run(RUN, "Successful", successful=1)),
    )
    outputs = tmp_path / "outputs"
    result = gate.run("--stack-config", stack_file(), "--json", app=APP, env={"GITHUB_OUTPUT": str(outputs)})
    assert result.code == 0, result.stderr
    steps = [line.split(": ", 1)[1] for line in result.stderr.splitlines() if line.startswith("[")]
    assert [line.split(" - ")[0] for line in steps] == [
        "step 1/5 (setWeight 20), weight 20%, rollout Progressing",
        "step 2/5 (pause 1m), weight 20%, rollout Paused",
        f"step 3/5 (analysis), weight 20%, analysis {RUN} Running, rollout Progressing",
        f"step 4/5 (setWeight 50), weight 50%, analysis {RUN} Successful, rollout Progressing",
        "step 5/5 (pause 2m), weight 50%, rollout Paused",
        "step 5/5 (done), weight 100%, rollout Healthy",
    ]
    assert "following the canary of Rollout percolate-reading" in result.stderr
    data = result.json()
    assert (data["outcome"], data["canary"]["state"], data["canary"]["abort"]) == ("healthy", "healthy", None)
    assert (data["canary"]["rollout"], data["canary"]["rollout_namespace"]) == (APP, "percolate")
    assert _abort_requests(gate.api) == []
    assert outputs.read_text() == "outcome=healthy\n"


def test_a_failed_analysis_aborts_the_rollout_and_fails_so_the_rollback_runs(
    gate, reading, stack_file, names, tmp_path
):
    failed = make_analysis_run(RUN, "Failed", failed=2, value="503")
    reading(
        ("Progressing", make_rollout(names.new, step=0)),
        ("Progressing", make_rollout(names.new, step=2, analysis=(RUN, "Running"))),
        ("Progressing", make_rollout(names.new, step=2, analysis=(RUN, "Failed"))),
        runs=(failed,),
    )
    outputs = tmp_path / "outputs"
    result = gate.run("--stack-config", stack_file(), app=APP, env={"GITHUB_OUTPUT": str(outputs)})
    assert result.code == 1, result.stderr
    patches = _abort_requests(gate.api)
    assert len(patches) == 1
    assert patches[0]["path"] == STATUS_PATH
    assert json.loads(patches[0]["body"]) == {"status": {"abort": True}}
    assert patches[0]["headers"]["content-type"] == "application/merge-patch+json"
    assert patches[0]["headers"]["authorization"] == f"Bearer {names.token}"
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{APP} FAILED after ")
    assert f"analysis {RUN} Failed (metric canary-health Failed (failed 2): value 503)" in lines[0]
    assert "  abort      the gate aborted Rollout percolate-reading: the stable ReplicaSet serves again" in lines
    assert "aborted Rollout percolate-reading in namespace percolate" in result.stderr
    assert outputs.read_text() == "outcome=failed\n"  # deploy.yml rolls back on failed or timeout


def test_the_timeout_aborts_a_canary_that_runs_the_digest(gate, reading, stack_file, names):
    reading(("Progressing", make_rollout(names.new, step=0, message="more replicas need to be updated")))
    result = gate.run("--stack-config", stack_file(), "--json", app=APP, timeout="600", interval="5")
    assert result.code == 1
    data = result.json()
    assert (data["outcome"], data["canary"]["abort"], data["canary"]["step"]) == ("timeout", "sent", 1)
    assert "the canary did not finish healthy" in data["reason"]
    assert len(_abort_requests(gate.api)) == 1


def test_a_refused_abort_is_reported_with_the_right_to_grant_and_still_fails(gate, reading, stack_file, names):
    gate.api.forbidden_patch = True
    reading(("Progressing", make_rollout(names.new, step=0, phase="Degraded", message="ProgressDeadlineExceeded")))
    result = gate.run("--stack-config", stack_file(), "--json", app=APP)
    assert result.code == 1
    data = result.json()
    assert (data["outcome"], data["canary"]["failure"]) == ("failed", "degraded")
    assert data["canary"]["abort"].startswith("failed: forbidden to patch Rollout 'percolate-reading'")
    assert "kubectl auth can-i patch rollouts.argoproj.io --subresource=status -n percolate" in result.stderr
    assert "Traceback" not in result.stderr


def test_inconclusive_may_be_left_to_a_person_until_the_timeout(gate, reading, stack_file, names):
    reading(("Suspended", make_rollout(names.new, step=2, phase="Paused", pause="InconclusiveAnalysisRun")))
    result = gate.run(
        "--stack-config", stack_file(abortOnInconclusive=False), "--json", app=APP, timeout="600", interval="5"
    )
    assert result.json()["outcome"] == "timeout"
    assert "kubectl argo rollouts promote percolate-reading" in result.stderr
    reading(("Suspended", make_rollout(names.new, step=2, phase="Paused", pause="InconclusiveAnalysisRun")))
    result = gate.run("--stack-config", stack_file(), "--json", app=APP)
    assert (result.json()["outcome"], result.json()["canary"]["failure"]) == ("failed", "analysis-inconclusive")


def test_without_a_canary_entry_the_gate_reads_no_rollout(gate, application, names, tmp_path):
    gate.api.script(application(compared=names.new, running=(names.new,), name=APP), app=APP)
    plain = tmp_path / "plain.yaml"
    plain.write_text("config: {}\n")
    for extra in ((), ("--stack-config", str(plain))):
        result = gate.run(*extra, app=APP)
        assert result.code == 0, result.stderr
    assert all("/applications/" in request["path"] for request in gate.api.requests)


def test_a_timeout_shorter_than_the_canary_and_a_bad_section_are_bad_input(gate, stack_file, tmp_path):
    result = gate.run("--stack-config", stack_file(steps=[{"setWeight": 10}, {"pause": "5m"}]), app=APP)
    assert result.code == 2
    assert "--timeout 20 is shorter than the canary of percolate-reading" in result.stderr
    assert "--timeout 600" in result.stderr
    result = gate.run("--stack-config", stack_file(steps=[{"setWeight": 10}, {"pause": None}]), app=APP)
    assert result.code == 2 and "untimed pause" in result.stderr
    assert gate.api.requests == []  # refused before any request
