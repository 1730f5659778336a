"""The benchmark gate of percolate-rocks' RC build, read as the runner runs it: a slower RC stops before
TestPyPI (the compare step is in the publish job's chain and nothing swallows its exit code), the
benchmarks run on one fixed runner image, and the results reach the build record and the pre-release."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.workflows import runner

BUILD = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "build-rocks.yml"
PUBLISH = "publish-testpypi"


def needed(jobs: dict[str, Any], job_id: str) -> set[str]:
    """Every job `job_id` waits for, directly or not."""
    seen: set[str] = set()
    waiting = [job_id]
    while waiting:
        needs = jobs[waiting.pop()].get("needs") or []
        for name in [needs] if isinstance(needs, str) else needs:
            if name not in seen:
                seen.add(name)
                waiting.append(name)
    return seen


def gate_problems(workflow: dict[str, Any]) -> list[str]:
    jobs = workflow["jobs"]
    comparing = [
        (job_id, step)
        for job_id, job in jobs.items()
        for step in job.get("steps", [])
        if "python -m pipelines bench compare" in str(step.get("run", ""))
    ]
    if not comparing:
        return ["no step runs `python -m pipelines bench compare`"]
    problems = []
    for job_id, step in comparing:
        if job_id not in needed(jobs, PUBLISH):
            problems.append(f"{PUBLISH} does not wait for job {job_id}, which compares the benchmarks")
        if step.get("continue-on-error") or jobs[job_id].get("continue-on-error"):
            problems.append(f"job {job_id}: a failed comparison is ignored (continue-on-error)")
        if "|| true" in step["run"] or "set +e" in step["run"]:
            problems.append(f"job {job_id}: the comparison's exit code is swallowed")
        if "latest" in str(jobs[job_id].get("runs-on")):
            problems.append(f"job {job_id} runs on a moving runner image ({jobs[job_id]['runs-on']})")
    return problems


def test_a_slower_rc_stops_before_testpypi():
    assert gate_problems(runner.load_yaml(BUILD)) == []


def test_the_gate_check_rejects_its_controls():
    workflow = runner.load_yaml(BUILD)
    unchained = copy.deepcopy(workflow)
    unchained["jobs"][PUBLISH]["needs"].remove("benchmarks")
    assert gate_problems(unchained) == [f"{PUBLISH} does not wait for job benchmarks, which compares the benchmarks"]
    ignored = copy.deepcopy(workflow)
    ignored["jobs"]["benchmarks"]["continue-on-error"] = True
    ignored["jobs"]["benchmarks"]["runs-on"] = "ubuntu-latest"
    assert len(gate_problems(ignored)) == 2


def test_the_results_go_into_the_build_record_and_onto_the_pre_release():
    jobs = runner.load_yaml(BUILD)["jobs"]
    runs = "\n".join(str(step.get("run", "")) for step in jobs["metadata"]["steps"])
    assert "--benchmarks benchmarks.json" in runs
    assert "build-metadata.json benchmarks.json" in runs  # the asset `bench baseline` names for the next RC
    bench = "\n".join(str(step.get("run", "")) for step in jobs["benchmarks"]["steps"])
    assert (
        "--benchmark-json benchmarks.json" in bench and "--constraint constraints.txt pytest pytest-benchmark" in bench
    )
