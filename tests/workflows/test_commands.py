"""Every decision in the workflows is a `python -m pipelines` command the real CLI parser accepts.

Each command line is taken from its step's script, its variables are given sample
values chosen from the expression that feeds them (a tag of the workflow's own
project and stage for `github.ref_name`, a version for the plan's output, ...), and
the words go through `pipelines.cli.build_parser()`. A command the CLI does not
have, or an option it does not take, fails here before any release runs into it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import re
import shlex
from collections.abc import Callable

import pytest

from pipelines.cli import build_parser
from pipelines.core.catalog import DEFAULT_REGISTRY, image_projects
from pipelines.core.tags import Stage, format_tag
from pipelines.core.versions import ProjectVersion

VERSION = ProjectVersion(0, 2, 0)
DIGEST = "sha256:" + "ab" * 32
# The value each expression has in a real run, where it does not depend on the workflow.
SAMPLES = {
    "${{ needs.plan.outputs.version }}": "0.2.0",
    "${{ needs.promote.outputs.version }}": "0.2.0",
    "${{ needs.plan.outputs.package-version }}": "0.2.0rc1",
    "${{ steps.plan.outputs.package-version }}": "0.2.0rc1",
    "${{ needs.plan.outputs.built-at }}": "2025-10-25T14:30:00Z",
    "${{ steps.clock.outputs.built-at }}": "2025-10-25T14:30:00Z",
    "${{ matrix.arch }}": "amd64",
    "${{ github.token }}": "ghs_sample",
    "${{ secrets.PERCOLATE_GIT_PAT }}": "github_pat_sample",
    "${{ runner.temp }}/promotion/promote.json": "/tmp/promotion/promote.json",
    "${{ inputs.event }}": "rc-built",
    "${{ inputs.stack }}": "all",
    "${{ inputs.version }}": "percolate-v0.2.0-rc1",
    "${{ steps.stem.outputs.build }}": "2025.10.25.1430-build.123-v0.2.0-abc1234",
    "${{ needs.build-index.outputs.build }}": "2025.10.25.1430-build.123-v0.2.0-abc1234",
    "${{ needs.build-index.outputs.digest }}": DIGEST,
    "${{ needs.staging-record.outputs.record }}": DIGEST,
    "${{ steps.target.outputs.application }}": "percolate-api-staging",
    "${{ steps.tests.outcome == 'success' && 'passed' || 'failed' }}": "passed",
    "${{ needs.staging-tests.result == 'success' && 'passed' || 'failed' }}": "failed",
    "${{ runner.temp }}/staging-report.xml": "/tmp/staging-report.xml",
    "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}": (
        "https://github.com/percolation-labs/percolate/actions/runs/1"
    ),
}
# Variables a script sets itself (a loop, an assignment), with a value a real run gives them; used only
# where the step's script does assign the name.
SCRIPT_SAMPLES = {
    "project": "percolate",
    "version": "0.2.0",
    "tag": "percolate-v0.2.0",
    "digest": DIGEST,
    "pr": "https://github.com/o/r/pull/1",
}
# Variables every Actions step has without asking (the runner's default environment).
DEFAULT_ENV = {
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
    "GITHUB_RUN_NUMBER": "123",
    "RUNNER_TEMP": "/home/runner/work/_temp",
}
ARRAY = re.compile(r"^\$\{\w+\[@\]\}$")
FROM_ARGO_CD_IMAGES = re.compile(r"^\$\{\{ fromJSON\(steps\.up\.outputs\.argocdImages\)\['([a-z-]+)'\] \}\}$")
VARIABLE = re.compile(r"\$\{(\w+)(#[^}]*)?\}|\$(\w+)")
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "(", ")", "2>", "2>&1"}


def workflow_context(workflow: str, tag_workflows) -> tuple[str, str]:
    """(project, tag) a run of `workflow` sees: its own tags, or for a shared workflow a caller's."""
    if workflow in tag_workflows:
        project, stage = tag_workflows[workflow]
    else:
        stage = Stage.BUILD if workflow == "_build-image.yml" else Stage.RELEASE
        project = image_projects()[0]
    return project.name, format_tag(project.name, VERSION, 1 if stage is Stage.BUILD else None)


def sample(expression: str, workflow: str, tag_workflows) -> str:
    project, tag = workflow_context(workflow, tag_workflows)
    if expression == "${{ github.ref_name }}":
        return tag
    if expression == "${{ inputs.project }}":
        return project
    match = FROM_ARGO_CD_IMAGES.match(expression)
    if match:
        return f"{DEFAULT_REGISTRY}/{match.group(1)}@{DIGEST}"
    if expression in SAMPLES:
        return SAMPLES[expression]
    if "${{" not in expression:
        return expression
    raise AssertionError(f"no sample value for {expression!r}: add one to SAMPLES")


def expand(word: str, value_of: Callable[[str], str]) -> str:
    """Shell parameter expansion of the forms the workflows use: $NAME, ${NAME} and ${NAME#pattern}."""

    def replace(match: re.Match[str]) -> str:
        value = value_of(match.group(1) or match.group(3))
        pattern = match.group(2)
        if pattern:
            # ${NAME#pattern}: drop the shortest prefix matching the glob.
            for end in range(len(value) + 1):
                if fnmatch.fnmatchcase(value[:end], pattern[1:]):
                    return value[end:]
        return value

    return VARIABLE.sub(replace, word)


def command_words(command, tag_workflows) -> list[str]:
    lexer = shlex.shlex(command.text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for word in lexer:
        if word in SHELL_OPERATORS:
            break
        words.append(word)

    def value_of(name: str) -> str:
        if name in DEFAULT_ENV and name not in command.env:
            return DEFAULT_ENV[name]
        if name not in command.env and name in SCRIPT_SAMPLES and assigns(command.step.run or "", name):
            return SCRIPT_SAMPLES[name]
        assert name in command.env, f"{command.step.label}: ${name} is not set by the step's env"
        return sample(str(command.env[name]), command.step.workflow, tag_workflows)

    # "${name[@]}" (options a script collected in an array) expands to words of its own; not sampled here.
    return [expand(word, value_of) for word in words if not ARRAY.match(word)]


def assigns(script: str, name: str) -> bool:
    """Whether `script` sets shell variable `name` (an assignment or a for loop)."""
    return re.search(rf"(?:^|[\s;]){name}=|\bfor {name} in\b", script, re.MULTILINE) is not None


def test_the_workflows_call_the_cli(pipelines_command, tag_workflows):
    words = command_words(pipelines_command, tag_workflows)
    assert words[:3] == ["python", "-m", "pipelines"]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            args = build_parser().parse_args(words[3:])
        except SystemExit:
            pytest.fail(f"{pipelines_command.step.label}: the CLI refuses {shlex.join(words)}:\n{stderr.getvalue()}")
    assert callable(args.handler)


def test_expansion_follows_the_shell():
    values = {"IMAGE": f"{DEFAULT_REGISTRY}/percolate@{DIGEST}", "TAG": "percolate-v0.2.0"}
    assert expand("${IMAGE#*@}", values.__getitem__) == DIGEST
    assert expand("x$TAG-${TAG}", values.__getitem__) == "xpercolate-v0.2.0-percolate-v0.2.0"
    assert expand("${TAG#nothing}", values.__getitem__) == "percolate-v0.2.0"


def jobs_reached(workflow, workflows):
    """The jobs of `workflow`, with a calling job replaced by the called workflow's jobs."""
    for job in workflow.jobs.values():
        if job.calls:
            yield from jobs_reached(workflows[job.calls], workflows)
        else:
            yield workflow, job


def runs(job, pattern: str) -> bool:
    return any(step.run and re.search(pattern, step.run) for step in job.steps)


def test_every_tag_run_first_plans_with_the_cli_and_every_job_waits_for_it(workflows, tag_workflows):
    for name in tag_workflows:
        reached = list(jobs_reached(workflows[name], workflows))
        (owner, planner), *_ = [(w, j) for w, j in reached if runs(j, r"python -m pipelines plan \"\$TAG\"")]
        assert not planner.needs, f"{name}: the plan comes first"
        for workflow, job in reached:
            if workflow is owner and job is not planner:
                assert planner.id in workflow.needed_by(job), f"{job.label} does not wait for the plan"


def test_version_files_are_checked_before_anything_builds(workflows):
    for name in ("build-rocks.yml", "release-rocks.yml"):
        assert runs(workflows[name].jobs["plan"], r"python -m pipelines versions check --tag \"\$TAG\"")
