"""Fixtures of the workflow tests: the workflow files as read by GitHub, and GitHub's filter patterns.

`Workflow` reads a file with a YAML 1.2 loader (as GitHub does: `on` is a key, not
a boolean) and keeps its text for what only the text shows (version comments on
`uses:` lines). `FilterPatterns` is GitHub's branch and tag filter syntax, written
from the documented cheat sheet, so that the trigger tests can ask which workflows
a pushed tag starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from pipelines.core.catalog import PROJECTS, Project
from pipelines.core.tags import Stage

REPO_ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = REPO_ROOT / ".github"
WORKFLOWS_DIR = GITHUB_DIR / "workflows"
# Local reusable workflows: the self-repository form (`$/…`) and the older workspace-relative one.
LOCAL_USES = re.compile(r"^(?:\$/|\./)(\.github/workflows/[^@\s]+\.ya?ml)$")


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Step:
    workflow: str
    job_id: str
    index: int
    data: dict[str, Any]

    @property
    def uses(self) -> str | None:
        return self.data.get("uses")

    @property
    def action(self) -> str | None:
        """`owner/repo` of the action this step uses, without the ref."""
        return self.uses.split("@", 1)[0] if self.uses else None

    @property
    def run(self) -> str | None:
        return self.data.get("run")

    @property
    def inputs(self) -> dict[str, Any]:
        return self.data.get("with") or {}

    @property
    def env(self) -> dict[str, Any]:
        return self.data.get("env") or {}

    @property
    def label(self) -> str:
        return f"{self.workflow} job {self.job_id} step {self.data.get('name') or self.index}"


@dataclass(frozen=True)
class Job:
    workflow: str
    id: str
    data: dict[str, Any]

    @property
    def permissions(self) -> Any:
        return self.data.get("permissions")

    @property
    def calls(self) -> str | None:
        """The local reusable workflow file this job calls, if it calls one."""
        uses = self.data.get("uses")
        if uses is None:
            return None
        match = LOCAL_USES.match(uses)
        assert match, f"{self.workflow} job {self.id} calls {uses!r}, which is not a local reusable workflow"
        return Path(match.group(1)).name

    @property
    def steps(self) -> list[Step]:
        return [Step(self.workflow, self.id, i, s) for i, s in enumerate(self.data.get("steps") or [])]

    @property
    def needs(self) -> tuple[str, ...]:
        needs = self.data.get("needs") or ()
        return (needs,) if isinstance(needs, str) else tuple(needs)

    @property
    def matrix(self) -> dict[str, Any]:
        return (self.data.get("strategy") or {}).get("matrix") or {}

    def matrix_values(self, key: str) -> list[Any]:
        """The values `key` takes in the matrix, from a plain list or from `include` entries."""
        if key in self.matrix:
            return list(self.matrix[key])
        return [entry[key] for entry in self.matrix.get("include", []) if key in entry]

    @property
    def runners(self) -> list[Any]:
        """The runner labels the job runs on, one per matrix entry where `runs-on` is the matrix's."""
        runs_on = self.data.get("runs-on")
        return self.matrix_values("runner") if runs_on == "${{ matrix.runner }}" else [runs_on]

    @property
    def label(self) -> str:
        return f"{self.workflow} job {self.id}"


@dataclass(frozen=True)
class Workflow:
    path: Path
    text: str = field(repr=False)
    data: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def triggers(self) -> dict[str, Any]:
        """`on:` as a mapping of event to its filters (None where the event has none)."""
        on = self.data["on"]
        if isinstance(on, str):
            return {on: None}
        if isinstance(on, list):
            return {event: None for event in on}
        return dict(on)

    @property
    def reusable(self) -> bool:
        return "workflow_call" in self.triggers

    @cached_property
    def jobs(self) -> dict[str, Job]:
        return {job_id: Job(self.name, job_id, data) for job_id, data in self.data["jobs"].items()}

    def steps(self) -> Iterator[Step]:
        for job in self.jobs.values():
            yield from job.steps

    def needed_by(self, job: Job) -> set[str]:
        """The ids of every job `job` waits for, directly or through the jobs it needs."""
        needed: set[str] = set()
        pending = list(job.needs)
        while pending:
            job_id = pending.pop()
            if job_id not in needed:
                needed.add(job_id)
                pending += self.jobs[job_id].needs
        return needed

    def starts_on_tag(self, tag: str) -> bool:
        """Whether pushing `tag` starts this workflow, by GitHub's rules for push and create events."""
        triggers = self.triggers
        if "create" in triggers:
            return True
        if "push" not in triggers:
            return False
        push = triggers["push"] or {}
        if "tags" in push:
            return FilterPatterns(push["tags"]).matches(tag)
        if "tags-ignore" in push:
            return not FilterPatterns(push["tags-ignore"]).matches(tag)
        # Branch filters alone mean "no tags"; path filters are not evaluated for tag pushes.
        return "branches" not in push and "branches-ignore" not in push


@dataclass(frozen=True)
class PipelinesCommand:
    """One `python -m pipelines …` command line of a step's script, with the variables in its scope."""

    step: Step
    text: str
    env: dict[str, Any]

    @property
    def id(self) -> str:
        words = self.text.split()
        return f"{self.step.workflow}:{self.step.job_id}:{' '.join(words[3:5])}"


def pipelines_commands(workflows: dict[str, Workflow]) -> list[PipelinesCommand]:
    """Every command line that calls the CLI, cut at the first shell operator after it."""
    commands = []
    for workflow in workflows.values():
        for job in workflow.jobs.values():
            for step in job.steps:
                if not step.run:
                    continue
                env = {**(workflow.data.get("env") or {}), **(job.data.get("env") or {}), **step.env}
                script = step.run.replace("\\\n", " ")
                for line in script.splitlines():
                    start = line.find("python -m pipelines")
                    if start != -1:
                        commands.append(PipelinesCommand(step, line[start:], env))
    return commands


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pipelines_command" in metafunc.fixturenames:
        commands = pipelines_commands(load_workflows())
        metafunc.parametrize("pipelines_command", commands, ids=[c.id for c in commands])


def load_workflows() -> dict[str, Workflow]:
    paths = sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])
    return {p.name: Workflow(p, p.read_text(encoding="utf-8"), load_yaml(p)) for p in paths}


def short_name(project: Project) -> str:
    """`rocks` for percolate-rocks, `percolate` for percolate: the workflow files' naming."""
    return project.name.removeprefix("percolate-")


def tag_workflow(project: Project, stage: Stage) -> str:
    """The workflow a project's RC tags (stage build) or release tags (stage release) start."""
    return f"{stage.value}-{short_name(project)}.yml"


TAG_WORKFLOWS = {tag_workflow(p, stage): (p, stage) for p in PROJECTS for stage in Stage}


class InvalidPattern(ValueError):
    pass


_SPECIAL = set("*?+[]!\\")


def compile_pattern(pattern: str) -> tuple[bool, re.Pattern[str]]:
    """One filter pattern as (negated, regex matching the whole ref name).

    The cheat sheet's rules: `*` is any run of characters but `/`; `**` any run at all;
    `?` zero or one of the preceding character; `+` one or more of it; `[...]` one
    character of the set or its ranges; `!` first negates the pattern; `\\` makes the
    next character literal. Patterns match the whole name, never a part of it.
    """
    if not pattern:
        raise InvalidPattern("empty pattern")
    negated = pattern.startswith("!")
    body = pattern[1:] if negated else pattern
    if not body:
        raise InvalidPattern("`!` needs a pattern after it")
    atoms: list[str] = []
    quantifiable = False
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] in _SPECIAL:
            atoms.append(re.escape(body[i + 1]))
            quantifiable = True
            i += 2
            continue
        if char == "*":
            double = body.startswith("**", i)
            atoms.append(".*" if double else "[^/]*")
            quantifiable = False
            i += 2 if double else 1
            continue
        if char in "?+":
            if not quantifiable:
                raise InvalidPattern(f"{char!r} at {i} follows no plain character")
            atoms[-1] = f"(?:{atoms[-1]}){char}"
            quantifiable = False
            i += 1
            continue
        if char == "[":
            end = body.find("]", i + 1)
            if end == -1:
                raise InvalidPattern(f"`[` at {i} is never closed")
            atoms.append(_character_set(body[i + 1 : end]))
            quantifiable = True
            i = end + 1
            continue
        atoms.append(re.escape(char))
        quantifiable = True
        i += 1
    return negated, re.compile("".join(atoms), re.DOTALL)


_RANGE_ENDS = (("a", "z"), ("A", "Z"), ("0", "9"))


def _character_set(content: str) -> str:
    if not content:
        raise InvalidPattern("empty `[]`")
    parts = []
    i = 0
    while i < len(content):
        if i + 2 < len(content) and content[i + 1] == "-":
            start, end = content[i], content[i + 2]
            if not any(lo <= start <= end <= hi for lo, hi in _RANGE_ENDS):
                raise InvalidPattern(f"range {start}-{end}: ranges stay within a-z, A-Z or 0-9")
            parts.append(f"{re.escape(start)}-{re.escape(end)}")
            i += 3
        else:
            parts.append(re.escape(content[i]))
            i += 1
    return f"[{''.join(parts)}]"


class FilterPatterns:
    """An ordered list of filter patterns, as under `tags:` or `branches:`.

    A name matches when the last pattern that matches it is positive: a negative
    pattern after a match excludes the name, and a positive one after that includes it again.
    """

    def __init__(self, patterns: list[str]) -> None:
        self.compiled = [compile_pattern(p) for p in patterns]

    def matches(self, name: str) -> bool:
        result = False
        for negated, regex in self.compiled:
            if regex.fullmatch(name):
                result = not negated
        return result


@pytest.fixture(scope="session")
def workflows() -> dict[str, Workflow]:
    found = load_workflows()
    assert found, f"no workflow files in {WORKFLOWS_DIR}"
    return found


@pytest.fixture(scope="session")
def filter_patterns() -> type[FilterPatterns]:
    return FilterPatterns


@pytest.fixture(scope="session")
def invalid_pattern() -> type[InvalidPattern]:
    return InvalidPattern


@pytest.fixture(scope="session")
def tag_workflows() -> dict[str, tuple[Project, Stage]]:
    """Each tag-started workflow file with the project and stage whose tags start it."""
    return TAG_WORKFLOWS


@pytest.fixture(scope="session")
def github_dir() -> Path:
    return GITHUB_DIR


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def yaml_loader():
    return load_yaml
