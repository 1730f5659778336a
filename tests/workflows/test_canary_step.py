"""deploy.yml's gate of an app with a canary: it passes the stack file and waits longer than the steps take."""

from __future__ import annotations

import re

import yaml

from pipelines.core.catalog import STACK_CONFIG_FILE, image_projects
from pipelines.deploy.canary import CANARY_KEY, MAX_CANARY_SECONDS, parse_canaries
from tests.conftest import REPO_ROOT


def _gate_runs() -> dict[str, str]:
    deploy = yaml.safe_load((REPO_ROOT / ".github/workflows/deploy.yml").read_text())
    steps = deploy["jobs"]["deploy"]["steps"]
    return {step["id"].removeprefix("gate-"): step["run"] for step in steps if step.get("id", "").startswith("gate-")}


def test_each_canary_gate_reads_the_stack_file_and_outwaits_the_longest_canary():
    stack = yaml.safe_load((REPO_ROOT / STACK_CONFIG_FILE).read_text())
    canaries = parse_canaries(stack["config"].get(CANARY_KEY))
    assert canaries, "Pulumi.prod.yaml declares percolate-reading's canary"
    runs = _gate_runs()
    for project in image_projects():
        run = runs[str(project.argocd_application)]
        has_stack = f"--stack-config {STACK_CONFIG_FILE}" in run
        if project.argocd_rollout is None:
            continue  # a plain Deployment: the stack file changes nothing for its gate
        assert has_stack, f"the gate of {project.name} does not follow its canary"
        timeout = int(re.search(r"--timeout (\d+)", run).group(1))
        assert timeout >= MAX_CANARY_SECONDS + 300  # any valid canary fits, with time for its pods to start
    assert canaries["percolate-reading"].minimum_seconds <= MAX_CANARY_SECONDS
