"""What no workflow parser sees: every output a workflow reads from a pulumi/actions step is one the
Pulumi program exports for that step's stack.

pulumi/actions sets one step output per stack output, at run time, so `steps.up.outputs.argocdImages`
is checked by nothing GitHub or actionlint knows. The exports are taken from the program itself, run
under Pulumi's mocks for each stack a workflow names (staging against an empty local registry, which
its program reads), so an export renamed in the program, or one only the other stack has, shows here
as it would on the runner: as an empty string where the workflow expected a value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest

from infra.render import offline_answers, read_stack_file, run_program, with_registry
from infra.staging import is_staging
from kit.registry import LocalRegistry
from tests.workflows import runner
from tests.workflows.conftest import REPO_ROOT, WORKFLOWS_DIR

PULUMI_ACTION = "pulumi/actions"


@dataclass(frozen=True)
class PulumiRead:
    """`steps.<step>.outputs.<output>` read in a job, where <step> runs pulumi/actions on `stack`."""

    where: str
    step: str
    stack: str
    output: str
    declared: frozenset[str]  # the action's own outputs (its action.yml), which every run has


def pulumi_reads(workflows: Mapping[str, Any], actions: Mapping[tuple[str, str], runner.Action]) -> set[PulumiRead]:
    reads = set()
    for workflow, job_id, job in runner.jobs(workflows):
        stacks = {}
        for step in runner.steps(job):
            parsed = runner.split_uses(step.get("uses", "./"))
            if parsed and parsed[0] == PULUMI_ACTION and "id" in step:
                stacks[step["id"]] = (step["with"]["stack-name"], frozenset(actions[parsed].outputs))
        # Scripts too: GitHub expands `${{ }}` in `run:` as anywhere else.
        for text in runner.strings(job, skip=frozenset()):
            for step, output in runner.STEP_OUTPUT.findall(text):
                if step in stacks:
                    stack, declared = stacks[step]
                    reads.add(PulumiRead(runner.label(workflow, job_id), step, stack, output, declared))
    return reads


def unexported(reads: set[PulumiRead], exports: Mapping[str, set[str]]) -> list[str]:
    problems = []
    for read in sorted(reads, key=lambda r: (r.where, r.step, r.output)):
        if read.stack not in exports:
            problems.append(
                f"{read.where}: step {read.step} runs stack {read.stack!r}, which has no Pulumi.<stack>.yaml"
            )
        elif read.output not in exports[read.stack] | read.declared:
            problems.append(
                f"{read.where}: reads steps.{read.step}.outputs.{read.output}, which stack {read.stack} does not export"
                f" (it exports {sorted(exports[read.stack])})"
            )
    return problems


def stack_exports(stack: str, registry: str) -> set[str]:
    """The names the program exports when run for `stack` (as `pulumi preview` runs it)."""
    config = read_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")
    if is_staging(config.values):
        config = with_registry(config, f"{registry}/percolation-labs")
    return set(run_program(config, offline_answers(config), stack=stack).outputs)


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return {path.name: runner.load_yaml(path) for path in sorted(WORKFLOWS_DIR.glob("*.yml"))}


@pytest.fixture(scope="module")
def reads(ours) -> set[PulumiRead]:
    return pulumi_reads(ours, runner.load_actions())


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Iterator[str]:
    started = LocalRegistry(tmp_path_factory.mktemp("empty-registry")).start()
    yield started.host
    started.stop()


@pytest.fixture(scope="module")
def exports(reads, registry) -> dict[str, set[str]]:
    stacks = {read.stack for read in reads}
    return {stack: stack_exports(stack, registry) for stack in stacks if (REPO_ROOT / f"Pulumi.{stack}.yaml").exists()}


def test_every_output_read_from_pulumi_is_exported_for_its_stack(reads, exports):
    # What the workflows read today: prod's Applications and staging's builds (deploy.yml, _build-image.yml).
    assert {(read.stack, read.output) for read in reads} >= {("prod", "argocdImages"), ("staging", "stagingBuilds")}
    assert unexported(reads, exports) == []


@pytest.mark.parametrize(
    ("stack", "name", "renamed", "where"),
    [
        ("prod", "argocdImages", "argocdImage", "deploy.yml job deploy"),
        ("staging", "stagingBuilds", "stagingBuild", "_build-image.yml job staging"),
    ],
)
def test_control_an_export_renamed_in_the_program(monkeypatch, reads, exports, registry, stack, name, renamed, where):
    export = pulumi.export
    monkeypatch.setattr(pulumi, "export", lambda key, value: export(renamed if key == name else key, value))
    changed = {**exports, stack: stack_exports(stack, registry)}
    assert renamed in changed[stack]
    problems = unexported(reads, changed)
    assert any(line.startswith(f"{where}: reads steps.up.outputs.{name}, which stack {stack}") for line in problems)


def test_control_an_output_only_the_other_stack_exports(ours, exports):
    """deploy.yml's `up` runs prod, which has no stagingBuilds: a check over both stacks' names would pass it."""
    broken = copy.deepcopy(ours)
    [gate] = [s for s in broken["deploy.yml"]["jobs"]["deploy"]["steps"] if s.get("id") == "gate-percolate-api"]
    gate["env"]["IMAGE"] = "${{ fromJSON(steps.up.outputs.stagingBuilds)['percolate'].digest }}"
    problems = unexported(pulumi_reads(broken, runner.load_actions()), exports)
    assert any("reads steps.up.outputs.stagingBuilds, which stack prod does not export" in line for line in problems)
