"""Every workflow read as GitHub runs it on a fresh runner, against the actions' own metadata.

Each check (in `runner.py`) passes on our workflows and rejects its controls: copies of our
workflows (or of the prod stack's allow-list) broken the way a real mistake would break them.
"""

from __future__ import annotations

import ast
import copy
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra import policy
from infra.render import offline_answers, read_stack_file, run_program
from pipelines.commands import plan as plan_command
from pipelines.commands import promote as promote_command
from pipelines.core.catalog import IMAGE_PLATFORMS
from pipelines.wheels.trusted_publishers import WorkflowFiles
from tests.workflows import runner

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
CONFIGURE_PAGES_V5 = "actions/configure-pages@983d7736d9b0ae728b81ab479565c72886d7745b"  # v5.0.0, node20


def _keys_written_by_actions_outputs(module: Path) -> set[str]:
    """The literal keys of `actions_outputs({...})` calls in a command module."""
    keys = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "actions_outputs"
            and node.args
            and isinstance(node.args[0], ast.Dict)
        ):
            keys |= {key.value for key in node.args[0].keys if isinstance(key, ast.Constant)}
    return keys


def cli_step_outputs() -> dict[str, set[str]]:
    """The step outputs each `python -m pipelines` command writes, taken from the commands themselves."""

    class AnyPlan:
        def to_dict(self) -> dict[str, Any]:
            return defaultdict(str)

    promoted = defaultdict(str, platforms=dict.fromkeys(IMAGE_PLATFORMS, ""), tags_written=[], dry_run=False)
    return {
        "plan": set(plan_command._outputs(AnyPlan())),  # type: ignore[arg-type]
        "promote": set(promote_command._github_output(promoted)),
        "wait-healthy": _keys_written_by_actions_outputs(REPO_ROOT / "pipelines/commands/wait_healthy.py"),
    }


def stack_outputs() -> set[str]:
    """The Pulumi program's stack outputs: pulumi/actions sets each as a step output of `up` and `preview`."""
    names = set()
    for program in ("infra/production.py", "infra/staging.py"):
        for node in ast.walk(ast.parse((REPO_ROOT / program).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "export":
                names.add(node.args[0].value)  # type: ignore[attr-defined]
    return names


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return {path.name: runner.load_yaml(path) for path in sorted(WORKFLOWS_DIR.glob("*.yml"))}


@pytest.fixture(scope="module")
def actions() -> dict[tuple[str, str], runner.Action]:
    return runner.load_actions()


@pytest.fixture(scope="module")
def prod_resources():
    config = read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    return run_program(config, offline_answers(config)).resources


def broken(workflows: dict[str, Any], name: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(workflows)
    change(copied[name])
    return copied


def step_named(job: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The step called `prefix`, or else the one step whose name starts with it."""
    exact = [step for step in job["steps"] if step.get("name") == prefix]
    [step] = exact or [step for step in job["steps"] if step.get("name", "").startswith(prefix)]
    return step


def without_steps(job: dict[str, Any], *prefixes: str) -> None:
    job["steps"] = [step for step in job["steps"] if not step.get("name", "").startswith(prefixes)]


# ---- the vendored metadata ----------------------------------------------------------------------


def test_the_metadata_is_the_pinned_commits_own(actions):
    """Each file was read at its pinned commit; the one documented exception is named in data/actions/README.md."""
    readme = (runner.ACTIONS_DIR / "README.md").read_text(encoding="utf-8")
    stand_ins = {action.name for action in actions.values() if action.file_commit != action.sha}
    assert stand_ins == {"pypa/gh-action-pypi-publish"}
    for name in stand_ins:
        assert name in readme
    assert actions[("aquasecurity/trivy-action", "ed142fd0673e97e23eac54620cfb913e5ce36c25")].nested == [
        "aquasecurity/setup-trivy@3fb12ec12f41e471780db15c232d5dd185dcb514",
        "actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae",
    ]


# ---- inputs -------------------------------------------------------------------------------------


def test_every_with_key_is_declared_and_every_required_input_given(ours, actions):
    assert runner.input_problems(ours, actions) == []


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        (
            "ci.yml",
            lambda w: step_named(w["jobs"]["test"], "Check out")["with"].update({"persist-credential": False}),
            "ci.yml job test step Check out: actions/checkout v7.0.1 has no input 'persist-credential'",
        ),
        (
            "deploy.yml",
            lambda w: step_named(w["jobs"]["deploy"], "Log in to Pulumi Cloud")["with"].pop("organization"),
            "pulumi/auth-actions v2.1.0 requires the input 'organization'",
        ),
        (
            "release-percolate.yml",
            lambda w: w["jobs"]["release"]["with"].update({"projet": "percolate"}),
            "release-percolate.yml job release: _release-image.yml declares no input 'projet'",
        ),
        (
            "release-reading.yml",
            lambda w: w["jobs"]["release"].pop("secrets"),
            "_release-image.yml requires the secret 'PERCOLATE_GIT_PAT'",
        ),
        (
            "_build-image.yml",
            lambda w: step_named(w["jobs"]["build"], "Trivy scan").update(uses="aquasecurity/trivy-action@" + "0" * 40),
            "no metadata for aquasecurity/trivy-action@0000000000000000000000000000000000000000",
        ),
    ],
)
def test_the_input_check_rejects_its_controls(ours, actions, name, change, problem):
    problems = runner.input_problems(broken(ours, name, change), actions)
    assert any(problem in line for line in problems), problems


# ---- outputs ------------------------------------------------------------------------------------


def test_the_cli_outputs_are_read_from_the_commands():
    outputs = cli_step_outputs()
    assert {"version", "package-version", "environment"} <= outputs["plan"]
    assert {"repository", "index-digest", "digest-amd64", "digest-arm64", "version"} <= outputs["promote"]
    assert outputs["wait-healthy"] == {"outcome"}
    assert {"argocdImages", "stagingBuilds"} <= stack_outputs()


def output_problems(workflows, actions):
    return runner.output_problems(workflows, actions, cli_step_outputs(), {"pulumi/actions": stack_outputs()})


def test_every_output_read_is_one_its_step_or_job_has(ours, actions):
    assert output_problems(ours, actions) == []


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        (
            "_build-image.yml",
            lambda w: w["jobs"]["plan"]["outputs"].update({"built-at": "${{ steps.clock.outputs.built_at }}"}),
            "_build-image.yml job plan outputs: step clock has no output 'built_at'",
        ),
        (
            "_release-image.yml",
            lambda w: w["jobs"]["promote"]["outputs"].update({"digest": "${{ steps.promote.outputs.index_digest }}"}),
            "step promote has no output 'index_digest'",
        ),
        (
            "_release-image.yml",
            lambda w: step_named(w["jobs"]["sbom"], "Generate the SPDX SBOM")["with"].update(
                image="${{ steps.image.outputs.image }}"
            ),
            "step image has no output 'image'",
        ),
        (
            "deploy.yml",
            lambda w: step_named(w["jobs"]["deploy"], "Health gate percolate-api").update(
                env={"IMAGE": "${{ fromJSON(steps.up.outputs.argocdImage)['percolate-api'] }}"}
            ),
            "step up has no output 'argocdImage'",
        ),
        (
            "deploy.yml",
            lambda w: step_named(w["jobs"]["deploy"], "Roll back percolate (").update(
                {"if": "steps.gate-percolate-api.outputs.result == 'failed'"}
            ),
            "step gate-percolate-api has no output 'result'",
        ),
        (
            "deploy.yml",
            lambda w: step_named(w["jobs"]["deploy"], "pulumi up --stack prod").update(
                {"if": "steps.gate-percolate-api.outputs.outcome == 'failed'"}
            ),
            "steps.gate-percolate-api is no earlier step of this job",
        ),
        (
            "build-rocks.yml",
            lambda w: w["jobs"]["test-wheels"]["steps"][3]["env"].update(
                PACKAGE_VERSION="${{ needs.plan.outputs.package_version }}"
            ),
            "build-rocks.yml job test-wheels: job plan defines no output 'package_version'",
        ),
        (
            "release-rocks.yml",
            lambda w: w["jobs"]["github-release"].update(needs=["publish-pypi"]),
            "release-rocks.yml job github-release: reads needs.plan, but does not need plan",
        ),
    ],
)
def test_the_output_check_rejects_its_controls(ours, actions, name, change, problem):
    problems = output_problems(broken(ours, name, change), actions)
    assert any(problem in line for line in problems), problems


# ---- which actions run, and on what -------------------------------------------------------------


def prod_allows(resources) -> Callable[[str], bool]:
    [patterns] = policy.allowed_patterns(resources)
    return lambda uses: policy.action_allowed(uses, patterns)


def test_every_action_nested_ones_included_is_allowed_pinned_and_on_a_current_runtime(ours, actions, prod_resources):
    assert runner.policy_problems(ours, actions, prod_allows(prod_resources), runner.load_unverified()) == []


def test_the_allow_list_without_setup_trivy_blocks_the_scan(ours, actions, prod_resources):
    """The issue's bug: trivy-action allowed, the setup-trivy it runs inside not."""
    [patterns] = policy.allowed_patterns(prod_resources)
    before = [p for p in patterns if p != "aquasecurity/setup-trivy@*"]
    assert len(before) == len(patterns) - 1
    problems = runner.policy_problems(
        ours, actions, lambda uses: policy.action_allowed(uses, before), runner.load_unverified()
    )
    assert problems == [
        "_build-image.yml job build step Trivy scan (fails on fixable critical or high vulnerabilities) "
        "(inside aquasecurity/trivy-action): aquasecurity/setup-trivy is not allowed by the repository's actions policy"
    ]


def test_a_node20_action_is_rejected(ours, actions, prod_resources):
    def add_pages(workflow):
        workflow["jobs"]["test"]["steps"].append({"name": "Pages", "uses": CONFIGURE_PAGES_V5})

    problems = runner.policy_problems(
        broken(ours, "ci.yml", add_pages), actions, prod_allows(prod_resources), runner.load_unverified()
    )
    assert problems == [
        "ci.yml job test step Pages: actions/configure-pages v5.0.0 runs on node20, retired on GitHub's runners"
    ]


def test_a_nested_action_without_a_sha_or_metadata_is_rejected(ours, actions, prod_resources):
    trivy = ("aquasecurity/trivy-action", "ed142fd0673e97e23eac54620cfb913e5ce36c25")
    meta = copy.deepcopy(dict(actions[trivy].meta))
    meta["runs"]["steps"][0]["uses"] = "aquasecurity/setup-trivy@v0.2.6"
    changed = {**actions, trivy: runner.Action(*trivy, "v0.36.0", trivy[1], meta)}
    problems = runner.policy_problems(ours, changed, prod_allows(prod_resources), runner.load_unverified())
    assert any("aquasecurity/setup-trivy@v0.2.6 is not pinned to a full commit SHA" in p for p in problems), problems
    assert any("no metadata for aquasecurity/setup-trivy@v0.2.6" in p for p in problems), problems


def test_every_unverified_nested_action_is_reached_and_says_why(ours, actions):
    """The list of nested actions without metadata holds no stale entry and no entry without a reason."""
    unverified = runner.load_unverified()
    reached = {
        uses
        for _, _, job in runner.jobs(ours)
        for step in runner.steps(job)
        for uses, via, action in runner.action_closure(step.get("uses", "./"), actions)
        if via and action is None
    }
    assert set(unverified) == reached
    assert all(len(reason) > 20 for reason in unverified.values())
    # Without the list, the check reports each of them.
    problems = runner.policy_problems(ours, actions, lambda uses: True, {})
    assert sum("no metadata for" in p for p in problems) == len(unverified)


def test_the_infra_policy_checks_nested_actions_too(actions, prod_resources):
    """`python -m infra render --check` and the tests hold the same rule: nested actions count."""
    workflows = WorkflowFiles(WORKFLOWS_DIR).all()
    nested = {f"{a.name}@{a.sha}": a.nested for a in actions.values()}
    assert policy.workflow_actions_allowed(prod_resources, workflows, nested) == []
    [permissions] = [r for r in prod_resources if r.type == policy.ACTIONS_PERMISSIONS]
    config = permissions.inputs["allowedActionsConfig"]
    narrowed = [p for p in config["patternsAlloweds"] if p != "aquasecurity/setup-trivy@*"]
    without = copy.deepcopy(permissions)
    without.inputs["allowedActionsConfig"]["patternsAlloweds"] = narrowed
    assert policy.workflow_actions_allowed([without], workflows, nested) == [
        "_build-image.yml job build: aquasecurity/setup-trivy (used inside aquasecurity/trivy-action) "
        "is not in the allowed actions"
    ]


# ---- the pipelines CLI needs the project ---------------------------------------------------------


def test_every_cli_step_runs_after_a_checkout_and_a_pinned_install(ours):
    assert runner.cli_problems(ours) == []


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        (
            # The bug: build-metadata with nothing checked out or installed.
            "_build-image.yml",
            lambda w: without_steps(w["jobs"]["metadata"], "Check out", "Set up Python", "Install"),
            "_build-image.yml job metadata step Write the build metadata JSON (every planned platform pushed, at its "
            "planned tag): runs python -m pipelines, but no earlier step checked out this repository",
        ),
        (
            "build-rocks.yml",
            lambda w: without_steps(w["jobs"]["metadata"], "Install"),
            "runs python -m pipelines, but no earlier step installed the project",
        ),
        (
            "deploy.yml",
            lambda w: step_named(w["jobs"]["deploy"], "Install").update(
                run=step_named(w["jobs"]["deploy"], "Install")["run"].replace(" --constraint constraints.txt", "")
            ),
            "installs the project without --constraint constraints.txt",
        ),
    ],
)
def test_the_cli_check_rejects_its_controls(ours, name, change, problem):
    problems = runner.cli_problems(broken(ours, name, change))
    assert any(problem in line for line in problems), problems


# ---- files handed between jobs -------------------------------------------------------------------


def test_every_handed_file_is_provided_before_it_is_read(ours):
    assert runner.handed_file_problems(ours) == []


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        (
            "_build-image.yml",
            lambda w: without_steps(w["jobs"]["metadata"], "Fetch the plan"),
            "_build-image.yml job metadata step Write the build metadata JSON (every planned platform pushed, at its "
            "planned tag): reads plan.json, which no earlier step of the job provides",
        ),
        (
            "_build-image.yml",
            lambda w: without_steps(w["jobs"]["push"], "Fetch the tested image"),
            "_build-image.yml job push step Push the tested image with its CalVer tag: reads calver-amd64.json",
        ),
        (
            "_release-image.yml",
            lambda w: without_steps(w["jobs"]["sign"], "Fetch the platform SBOMs"),
            "step Attest each platform image with its own SBOM: reads sbom-amd64.spdx.json",
        ),
        (
            "_release-image.yml",
            lambda w: without_steps(w["jobs"]["deploy-pr"], "Fetch the promotion record"),
            "reads ${{runner.temp}}/promotion/promote.json, which no earlier step of the job provides",
        ),
        (
            "release-rocks.yml",
            lambda w: without_steps(w["jobs"]["github-release"], "Fetch the promotion record"),
            "release-rocks.yml job github-release step Create the release with the files and notes: "
            "reads promoted.json",
        ),
        (
            "release-rocks.yml",
            lambda w: without_steps(w["jobs"]["sign"], "Fetch the release files"),
            "release-rocks.yml job sign step Sign every file and the SBOM",
        ),
        (
            "build-rocks.yml",
            lambda w: step_named(w["jobs"]["wheels"], "Build the wheel")["with"].update(args="--release --locked"),
            "build-rocks.yml job wheels step Keep the wheel: reads percolate-rocks/dist/*.whl",
        ),
        (
            "build-rocks.yml",
            lambda w: without_steps(w["jobs"]["metadata"], "Fetch the benchmark results"),
            "build-rocks.yml job metadata step Write the build metadata JSON (every planned wheel and the sdist, "
            "with sha256; benchmark medians): reads benchmarks.json",
        ),
        (
            "build-rocks.yml",
            lambda w: without_steps(w["jobs"]["benchmarks"], "Run the benchmarks against the installed wheel"),
            "build-rocks.yml job benchmarks step Keep the results: reads benchmarks.json",
        ),
    ],
)
def test_the_handed_file_check_rejects_its_controls(ours, name, change, problem):
    problems = runner.handed_file_problems(broken(ours, name, change))
    assert any(problem in line for line in problems), problems
