"""Each job read as a fresh GitHub runner reads it, against the actions' own metadata.

Pure functions over parsed workflow files (`{file name: parsed YAML}`) and the vendored
`action.yml` of every pinned action (`data/actions/`, see its README). Each check returns
its problems, one line each; an empty list means the rule holds. The tests run them on our
workflows and on deliberately broken copies (the controls), which each check must reject.
"""

from __future__ import annotations

import csv
import itertools
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML

ACTIONS_DIR = Path(__file__).parent / "data" / "actions"
SHA = re.compile(r"^[0-9a-f]{40}$")
# GitHub runs JavaScript actions on node24; node20 is retired from its runners (older ones long ago).
RETIRED_RUNTIMES = {"node12", "node16", "node20"}
RUNTIMES = {"node24", "composite", "docker"}
STEP_OUTPUT = re.compile(r"\bsteps\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)")
NEEDS_OUTPUT = re.compile(r"\bneeds\.([A-Za-z_][\w-]*)\.outputs\.([A-Za-z_][\w-]*)")
MATRIX = re.compile(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
WRITES_OUTPUT = re.compile(r"""\becho\s+["']?([A-Za-z_][\w-]*)(?:=|<<)""")
PIPELINES = re.compile(r"\bpython -m pipelines ([a-z-]+)")
INSTALLS_PROJECT = re.compile(r"\bpip install\b[^\n]*\s\.(?:\s|$)")
PINNED_INSTALL = re.compile(r"--constraint constraints\.txt\b")
# Options after which a command names a file or directory it writes.
WRITE_OPTIONS = {"--out", "--output", "-o", "--digestfile", "--to", "--benchmark-json", "--dir", "--dest"}
# Action inputs that name files the action reads (checked when they are files handed between jobs).
READ_INPUTS = {
    "sigstore/gh-action-sigstore-python": "inputs",
    "pypa/gh-action-pypi-publish": "packages-dir",
    "anchore/sbom-action": "path",
}
UPLOAD = "actions/upload-artifact"
DOWNLOAD = "actions/download-artifact"

Workflows = Mapping[str, Mapping[str, Any]]


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Action:
    """One action at one commit, from its own metadata file."""

    name: str  # owner/repo, or owner/repo/path for an action in a subfolder
    sha: str
    tag: str
    file_commit: str
    meta: Mapping[str, Any]

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self.meta.get("inputs") or {})

    @property
    def required(self) -> set[str]:
        """Inputs the action requires and gives no default for."""
        return {
            name
            for name, spec in self.inputs.items()
            if isinstance(spec, Mapping) and spec.get("required") in (True, "true") and "default" not in spec
        }

    @property
    def outputs(self) -> set[str]:
        return set(self.meta.get("outputs") or {})

    @property
    def using(self) -> str:
        return str(self.meta["runs"]["using"]).strip("'\"")

    @property
    def nested(self) -> list[str]:
        """The `uses:` of a composite action's steps (GitHub's allow-list applies to each)."""
        if self.using != "composite":
            return []
        return [step["uses"] for step in self.meta["runs"].get("steps") or [] if "uses" in step]


def load_actions(directory: Path = ACTIONS_DIR) -> dict[tuple[str, str], Action]:
    with (directory / "index.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {
        (row["action"], row["commit_sha"]): Action(
            row["action"],
            row["commit_sha"],
            row["tag"],
            row["file_commit"],
            load_yaml(directory / row["action"] / row["commit_sha"] / "action.yml"),
        )
        for row in rows
    }


def split_uses(uses: str) -> tuple[str, str] | None:
    """(`owner/repo[/path]`, ref) of a remote action; None for a local one or a docker image."""
    if uses.startswith(("./", "$/", "docker://")):
        return None
    name, _, ref = uses.partition("@")
    return name, ref


def jobs(workflows: Workflows) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for workflow, data in workflows.items():
        for job_id, job in (data.get("jobs") or {}).items():
            yield workflow, job_id, job


def steps(job: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(job.get("steps") or [])


def label(workflow: str, job_id: str, index: int | None = None, step: Mapping[str, Any] | None = None) -> str:
    where = f"{workflow} job {job_id}"
    if step is not None:
        where += f" step {step.get('name') or step.get('id') or index}"
    return where


def called_workflow(workflows: Workflows, job: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    uses = job.get("uses")
    if not isinstance(uses, str) or not uses.startswith(("./", "$/")):
        return None
    name = PurePosixPath(uses[2:]).name
    return name, workflows[name]


def workflow_call(data: Mapping[str, Any]) -> Mapping[str, Any]:
    on = data.get("on") or {}
    return (on.get("workflow_call") if isinstance(on, Mapping) else None) or {}


def strings(value: Any, skip: frozenset[str] = frozenset({"run"})) -> Iterator[str]:
    """Every string inside a step or job (keys in `skip` left out: scripts expand no expressions)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in skip:
                yield from strings(item, skip)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item, skip)


# ---- inputs -------------------------------------------------------------------------------------


def input_problems(workflows: Workflows, actions: Mapping[tuple[str, str], Action]) -> list[str]:
    """Every `with:` key is an input the action (or called workflow) declares; every required one is given."""
    problems = []
    for workflow, job_id, job in jobs(workflows):
        called = called_workflow(workflows, job)
        if called is not None:
            name, data = called
            call = workflow_call(data)
            for kind, given in (("input", job.get("with") or {}), ("secret", job.get("secrets") or {})):
                declared = dict(call.get(f"{kind}s") or {})
                for key in sorted(set(given) - set(declared)):
                    problems.append(f"{label(workflow, job_id)}: {name} declares no {kind} {key!r}")
                for key, spec in declared.items():
                    if (spec or {}).get("required") is True and "default" not in (spec or {}) and key not in given:
                        problems.append(f"{label(workflow, job_id)}: {name} requires the {kind} {key!r}")
        for index, step in enumerate(steps(job)):
            parsed = split_uses(step.get("uses", "./"))
            if parsed is None:
                continue
            action = actions.get(parsed)
            where = label(workflow, job_id, index, step)
            if action is None:
                problems.append(
                    f"{where}: no metadata for {parsed[0]}@{parsed[1]} in tests/workflows/data/actions: "
                    "vendor its action.yml at that commit"
                )
                continue
            given = set(step.get("with") or {})
            for key in sorted(given - set(action.inputs)):
                problems.append(f"{where}: {action.name} {action.tag} has no input {key!r}")
            for key in sorted(action.required - given):
                problems.append(f"{where}: {action.name} {action.tag} requires the input {key!r}")
    return problems


# ---- outputs ------------------------------------------------------------------------------------


def run_step_outputs(script: str, cli_outputs: Mapping[str, set[str]]) -> set[str]:
    """The step outputs a script writes: `echo name=…`/`name<<…` into GITHUB_OUTPUT, and the CLI's own."""
    names = set()
    for line in script.splitlines():
        if "GITHUB_OUTPUT" in line:
            names |= set(WRITES_OUTPUT.findall(line))
    for command in PIPELINES.findall(script):
        names |= cli_outputs.get(command, set())
    return names


def step_declares(
    step: Mapping[str, Any],
    actions: Mapping[tuple[str, str], Action],
    cli_outputs: Mapping[str, set[str]],
    runtime_outputs: Mapping[str, set[str]],
) -> set[str] | None:
    """The outputs a step has, or None when its action has no metadata (input_problems reports that).

    `runtime_outputs`: outputs an action sets at run time beyond its metadata, by action name
    (pulumi/actions sets one step output per stack output).
    """
    if "run" in step:
        return run_step_outputs(step["run"], cli_outputs)
    parsed = split_uses(step.get("uses", "./"))
    action = actions.get(parsed) if parsed else None
    return action.outputs | runtime_outputs.get(action.name, set()) if action is not None else None


def job_outputs(workflows: Workflows, job: Mapping[str, Any]) -> set[str]:
    called = called_workflow(workflows, job)
    if called is not None:
        return set(workflow_call(called[1]).get("outputs") or {})
    return set(job.get("outputs") or {})


def output_problems(
    workflows: Workflows,
    actions: Mapping[tuple[str, str], Action],
    cli_outputs: Mapping[str, set[str]],
    runtime_outputs: Mapping[str, set[str]],
) -> list[str]:
    """`steps.<id>.outputs.<name>` names an earlier step that has that output; `needs.<job>.outputs.<name>`
    names a job this one needs, which defines that output."""
    problems = []
    for workflow, job_id, job in jobs(workflows):
        all_jobs = workflows[workflow]["jobs"]
        ids = {step["id"]: index for index, step in enumerate(steps(job)) if "id" in step}
        places: list[tuple[str, int, Any]] = [
            (f"{label(workflow, job_id)} outputs", len(steps(job)), job.get("outputs"))
        ]
        places += [(label(workflow, job_id, i, s), i, s) for i, s in enumerate(steps(job))]
        for where, position, value in places:
            for text in strings(value):
                for step_id, name in STEP_OUTPUT.findall(text):
                    if step_id not in ids or ids[step_id] >= position:
                        problems.append(f"{where}: steps.{step_id} is no earlier step of this job")
                        continue
                    declared = step_declares(steps(job)[ids[step_id]], actions, cli_outputs, runtime_outputs)
                    if declared is not None and name not in declared:
                        problems.append(f"{where}: step {step_id} has no output {name!r} (it has {sorted(declared)})")
        needs = job.get("needs") or []
        needs = [needs] if isinstance(needs, str) else list(needs)
        for text in strings({k: v for k, v in job.items() if k != "steps"} | {"steps": job.get("steps") or []}):
            for needed, name in NEEDS_OUTPUT.findall(text):
                if needed not in needs:
                    problems.append(f"{label(workflow, job_id)}: reads needs.{needed}, but does not need {needed}")
                elif name not in job_outputs(workflows, all_jobs[needed]):
                    problems.append(f"{label(workflow, job_id)}: job {needed} defines no output {name!r}")
    return problems


# ---- which actions run, and on what -------------------------------------------------------------


def action_closure(
    uses: str, actions: Mapping[tuple[str, str], Action], via: tuple[str, ...] = ()
) -> Iterator[tuple[str, tuple[str, ...], Action | None]]:
    """`uses` and every action nested inside it: (uses, the chain of actions it sits in, its metadata)."""
    parsed = split_uses(uses)
    if parsed is None:
        return
    action = actions.get(parsed)
    yield uses, via, action
    for nested in action.nested if action else []:
        if nested.startswith("./"):
            continue  # a file of the action's own repository, part of that action
        yield from action_closure(nested, actions, (*via, parsed[0]))


def load_unverified(directory: Path = ACTIONS_DIR) -> dict[str, str]:
    """Nested actions whose metadata is not available, each with the reason it cannot matter (unverified.tsv)."""
    with (directory / "unverified.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["uses"]: row["reason"] for row in csv.DictReader(handle, delimiter="\t")}


def policy_problems(
    workflows: Workflows,
    actions: Mapping[tuple[str, str], Action],
    allowed: Callable[[str], bool],
    unverified: Mapping[str, str] | None = None,
) -> list[str]:
    """Every action, nested ones included, is allowed, pinned by full SHA and runs on a supported runtime.

    A nested action listed in `unverified` (no metadata to be had, and a stated reason it never runs
    for our inputs) is still checked against the allow-list and the SHA rule, not for its runtime.
    """
    problems = []
    for workflow, job_id, job in jobs(workflows):
        for index, step in enumerate(steps(job)):
            for uses, via, action in action_closure(step.get("uses", "./"), actions):
                where = label(workflow, job_id, index, step) + (f" (inside {' → '.join(via)})" if via else "")
                name, ref = uses.split("@", 1)
                if not SHA.match(ref):
                    problems.append(f"{where}: {uses} is not pinned to a full commit SHA")
                if not allowed(uses):
                    problems.append(f"{where}: {name} is not allowed by the repository's actions policy")
                if action is None and uses in (unverified or {}):
                    continue
                if action is None:
                    problems.append(f"{where}: no metadata for {uses}: its runtime and nested actions are unknown")
                elif action.using in RETIRED_RUNTIMES:
                    problems.append(f"{where}: {name} {action.tag} runs on {action.using}, retired on GitHub's runners")
                elif action.using not in RUNTIMES:
                    problems.append(f"{where}: {name} {action.tag} runs on {action.using!r}")
    return problems


# ---- the pipelines CLI needs the project ---------------------------------------------------------


def is_checkout_of_this_repository(step: Mapping[str, Any]) -> bool:
    parsed = split_uses(step.get("uses", "./"))
    inputs = step.get("with") or {}
    return bool(parsed and parsed[0] == "actions/checkout" and "repository" not in inputs and "path" not in inputs)


def cli_problems(workflows: Workflows) -> list[str]:
    """A step running `python -m pipelines` comes after a checkout of this repository and an install of it;
    every install of the project takes the pinned versions (constraints.txt)."""
    problems = []
    for workflow, job_id, job in jobs(workflows):
        checked_out = installed = False
        for index, step in enumerate(steps(job)):
            script = step.get("run") or ""
            where = label(workflow, job_id, index, step)
            if INSTALLS_PROJECT.search(script):
                if not checked_out:
                    problems.append(f"{where}: installs `.` before any checkout of this repository")
                if not PINNED_INSTALL.search(script):
                    problems.append(f"{where}: installs the project without --constraint constraints.txt")
                installed = checked_out
            if PIPELINES.search(script) and not (checked_out and installed):
                missing = "checked out this repository" if not checked_out else "installed the project"
                problems.append(f"{where}: runs python -m pipelines, but no earlier step {missing}")
            if is_checkout_of_this_repository(step):
                checked_out = True
    return problems


# ---- files handed between jobs -------------------------------------------------------------------


def matrix_combinations(job: Mapping[str, Any]) -> list[dict[str, str]]:
    matrix = dict((job.get("strategy") or {}).get("matrix") or {})
    include = matrix.pop("include", None) or []
    matrix.pop("exclude", None)
    keys = [key for key, values in matrix.items() if isinstance(values, list)]
    combos = [dict(zip(keys, values, strict=True)) for values in itertools.product(*(matrix[k] for k in keys))]
    if include and not keys:
        return [{k: str(v) for k, v in entry.items()} for entry in include]
    return [{k: str(v) for k, v in c.items()} for c in combos] or [{}]


def substitute(text: str, matrix: Mapping[str, str]) -> str:
    """Matrix values put in; every other expression normalised to one spelling, without spaces
    (`${{runner.temp}}`), so that it stays one word of a script."""
    text = MATRIX.sub(lambda m: matrix.get(m.group(1), m.group(0)), text)
    return EXPRESSION.sub(lambda m: "${{" + re.sub(r"\s+", "", m.group(1)) + "}}", text)


def normal(path: str) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path.rstrip("/") if path not in ("", "/") else path


def upload_contents(paths: Sequence[str]) -> list[str]:
    """The file patterns an artifact holds: each path relative to the uploaded paths' common ancestor."""
    roots, entries = [], []
    for raw in paths:
        is_dir = raw.strip().endswith("/")
        path = normal(raw)
        parts = PurePosixPath(path).parts
        glob_at = next((i for i, part in enumerate(parts) if any(c in part for c in "*?[")), None)
        if glob_at is not None:
            root = PurePosixPath(*parts[:glob_at]) if glob_at else PurePosixPath(".")
        else:
            root = PurePosixPath(path) if is_dir else PurePosixPath(path).parent
        roots.append(root)
        entries.append((path, is_dir))
    common_parts: list[str] = []
    for group in zip(*(root.parts for root in roots), strict=False):
        if len(set(group)) != 1:
            break
        common_parts.append(group[0])
    common = PurePosixPath(*common_parts)
    files = []
    for path, is_dir in entries:
        relative = str(PurePosixPath(path).relative_to(common)) if common_parts else path
        files.append("*" if is_dir and relative == "." else f"{relative}/*" if is_dir else relative)
    return files


@dataclass(frozen=True)
class Artifact:
    name: str
    files: tuple[str, ...]


def artifacts(data: Mapping[str, Any]) -> list[Artifact]:
    found = []
    for job in (data.get("jobs") or {}).values():
        for matrix in matrix_combinations(job):
            for step in steps(job):
                if (split_uses(step.get("uses", "./")) or ("",))[0] == UPLOAD:
                    inputs = step.get("with") or {}
                    paths = [substitute(p, matrix) for p in str(inputs.get("path", "")).splitlines() if p.strip()]
                    found.append(
                        Artifact(substitute(str(inputs.get("name", "artifact")), matrix), tuple(upload_contents(paths)))
                    )
    return found


def satisfied(read: str, provided: set[str]) -> bool:
    read = normal(read)
    return any(fnmatchcase(read, have) or fnmatchcase(have, read) or have.startswith(read + "/") for have in provided)


def is_handed(path: str, names: set[str], directories: set[str]) -> bool:
    """Whether `path` is one of the files the workflow hands between jobs (by name or by folder)."""
    path = normal(path)
    base = PurePosixPath(path).name
    if path.split("/")[0] in directories:
        return True
    return base not in ("*", "") and any(fnmatchcase(base, name) or fnmatchcase(name, base) for name in names)


def script_words(line: str, env: Mapping[str, str]) -> list[str]:
    """A script line as words with $NAME and ${NAME} put in from env (others left as written)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return env.get(name, match.group(0))

    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        words = line.split()
    return [re.sub(r"\$\{(\w+)\}|\$(\w+)", value, word) for word in words]


def script_files(script: str, env: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """("read" or "write", path) for every word of a script, in order; writes: redirections, output options,
    `tee` and `mkdir` arguments."""
    for line in script.replace("\\\n", " ").splitlines():
        words = script_words(line, env)
        writing_next = False
        command: str | None = None
        for word in words:
            if word in (">", ">>"):
                writing_next = True
                continue
            if word in ("|", "||", "&&", ";", "&"):
                command = None
                continue
            if command is None:
                command = word
            if writing_next or (command in ("tee", "mkdir") and not word.startswith("-") and word != command):
                yield "write", word
                writing_next = False
                continue
            if word in WRITE_OPTIONS:
                writing_next = True
                continue
            # A word may hold a command substitution or an assignment: `image="$(jq -r .x "f.json")"`.
            for piece in re.split(r"[\s=()`]+", word):
                if piece and piece != "$":
                    yield "read", piece.rsplit(":", 1)[-1] if ":" in piece and "${{" not in piece else piece


def handed_file_problems(workflows: Workflows) -> list[str]:
    """A step reads a file handed between jobs (plans, records, digests, release files) only when an
    earlier step of its job wrote it or downloaded the artifact that holds it."""
    problems = []
    for workflow, data in workflows.items():
        held = artifacts(data)
        names = {PurePosixPath(f).name for artifact in held for f in artifact.files} - {"*"}
        directories = {f.split("/")[0] for artifact in held for f in artifact.files if "/" in f}
        for job_id, job in (data.get("jobs") or {}).items():
            for step in steps(job):
                if (split_uses(step.get("uses", "./")) or ("",))[0] == DOWNLOAD:
                    path = normal(str((step.get("with") or {}).get("path", ".")))
                    if path != ".":
                        directories.add(path)

            for matrix in matrix_combinations(job):
                env = {
                    k: substitute(str(v), matrix)
                    for k, v in {**(data.get("env") or {}), **(job.get("env") or {})}.items()
                }
                provided: set[str] = set()
                for index, step in enumerate(steps(job)):
                    where = label(workflow, job_id, index, step)
                    step_env = {**env, **{k: substitute(str(v), matrix) for k, v in (step.get("env") or {}).items()}}
                    inputs = {k: substitute(str(v), matrix) for k, v in (step.get("with") or {}).items()}
                    action = (split_uses(step.get("uses", "./")) or ("",))[0]
                    reads: list[str] = []
                    if action == DOWNLOAD:
                        base = normal(inputs.get("path", "."))
                        wanted = inputs.get("name")
                        pattern = inputs.get("pattern")
                        for artifact in held:
                            if wanted is not None and artifact.name != wanted:
                                continue
                            if pattern is not None and not fnmatchcase(artifact.name, pattern):
                                continue
                            folder = (
                                base
                                if wanted is not None or inputs.get("merge-multiple") == "True"
                                else f"{base}/{artifact.name}"
                            )
                            provided |= {normal(f"{folder}/{f}") if folder != "." else f for f in artifact.files}
                    elif action == UPLOAD:
                        reads = [line for line in inputs.get("path", "").splitlines() if line.strip()]
                    elif action in READ_INPUTS:
                        reads = inputs.get(READ_INPUTS[action], "").split()
                        if action == "sigstore/gh-action-sigstore-python":
                            provided |= {normal(r) + ".sigstore.json" for r in reads}
                    if action == "anchore/sbom-action" and "output-file" in inputs:
                        provided.add(normal(inputs["output-file"]))
                    if action == "PyO3/maturin-action":
                        args = inputs.get("args", "").split()
                        if "--out" in args:
                            out = args[args.index("--out") + 1]
                            provided.add(normal(f"{inputs.get('working-directory', '.')}/{out}") + "/*")
                    for path in reads:
                        if is_handed(path, names, directories) and not satisfied(path, provided):
                            problems.append(f"{where}: reads {normal(path)}, which no earlier step of the job provides")
                    if "run" in step:
                        for kind, path in script_files(step["run"], step_env):
                            if kind == "write":
                                provided.add(normal(path))
                                provided.add(normal(path) + "/*")
                            elif is_handed(path, names, directories) and not satisfied(path, provided):
                                problems.append(
                                    f"{where}: reads {normal(path)}, which no earlier step of the job provides"
                                )
    return sorted(set(problems))
