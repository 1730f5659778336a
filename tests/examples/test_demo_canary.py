"""`make demo`, the canary part (examples/demo_canary.py): steps rendered, a canary followed, a failed one aborted."""

from __future__ import annotations

import json
import re


def _section(out: str, number: int) -> str:
    return out.split(f"=== {number}. ", 1)[1].split("\n=== ", 1)[0]


def test_the_demo_renders_the_steps_into_the_rollout(demo_run):
    assert demo_run.returncode == 0, demo_run.stdout[-3000:] + demo_run.stderr[-3000:]
    rendered = _section(demo_run.stdout, 9)
    assert (
        "Rollout percolate-reading steps: setWeight 20, pause 2m, analysis percolate-reading-analysis, "
        "setWeight 50, pause 5m, analysis percolate-reading-analysis"
    ) in rendered
    assert "GET http://percolate-reading-canary.percolate.svc.cluster.local:8080/healthz" in rendered


def test_the_gate_follows_a_passing_canary_step_by_step_without_aborting(demo_run):
    passing = _section(demo_run.stdout, 10)
    steps = re.findall(r"percolate-reading: (step \S+ \([^)]*\))", passing)
    assert steps == [
        "step 1/6 (setWeight 20)",
        "step 2/6 (pause 2m)",
        "step 3/6 (analysis)",
        "step 3/6 (analysis)",
        "step 4/6 (setWeight 50)",
        "step 5/6 (pause 5m)",
        "step 6/6 (analysis)",
        "step 6/6 (analysis)",
        "step 6/6 (done)",
    ]
    assert "(Argo CD shows Suspended)" in passing
    assert "every canary step passed (percolate-reading stable)" in passing
    assert "aborts sent: 0" in passing


def test_a_failed_analysis_is_aborted_rolled_back_and_blocked(demo_run):
    failing = _section(demo_run.stdout, 11)
    assert "percolate-reading FAILED after" in failing
    assert "Failed (metric canary-health Failed (failed 2, successful 1): value unavailable)" in failing
    [patch] = re.findall(r"the gate sent PATCH (\S+) \((\S+)\): (.*)", failing)
    assert patch[:2] == (
        "/apis/argoproj.io/v1alpha1/namespaces/percolate/rollouts/percolate-reading/status",
        "application/merge-patch+json",
    )
    assert json.loads(patch[2]) == {"status": {"abort": True}}
    assert "rolled back percolate-reading 0.2.0 -> 0.1.0" in failing
    assert "percolate-reading 0.2.0 is blocked" in failing
    assert failing.index("the gate sent PATCH") < failing.index("rolled back percolate-reading")
