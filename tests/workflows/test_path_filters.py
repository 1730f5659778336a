"""The Pulumi workflows start on every change to what the Pulumi program runs: path filters derived
from the program's imports (every module of infra/ and pipelines/ it reaches), its stack files and
the pinned dependencies it is installed with."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAM = "infra.__main__"
LOCAL_PACKAGES = ("infra", "pipelines")
# What else the program runs with: Pulumi.yaml and the stack files, and the dependency pins.
ALSO = ("Pulumi.yaml", "Pulumi.prod.yaml", "pyproject.toml", "constraints.txt")
PULUMI_WORKFLOWS = {"deploy.yml": "push", "infra-preview.yml": "pull_request"}


def module_file(module: str) -> Path | None:
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, module: str) -> set[str]:
    """Every module an import statement anywhere in the file names (functions' own imports included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parents, *([node.module] if node.module else [])])
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def program_files() -> set[str]:
    """The repository files the Pulumi program imports, transitively, with the packages they sit in."""
    found: dict[str, Path] = {}
    pending = [PROGRAM]
    while pending:
        module = pending.pop()
        if module in found:
            continue
        path = module_file(module)
        if path is None:
            continue  # `from package import name` where name is no module
        found[module] = path
        parts = module.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]
        pending += [name for name in imported_names(path, module) if name.split(".")[0] in LOCAL_PACKAGES]
    return {str(path.relative_to(REPO_ROOT)) for path in found.values()}


def repository_files() -> list[str]:
    return sorted(
        str(path.relative_to(REPO_ROOT))
        for top in ("infra", "pipelines")
        for path in (REPO_ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    ) + [name for name in ALSO if (REPO_ROOT / name).is_file()]


def filter_problems(paths: list[str], filter_patterns) -> list[str]:
    """What the path filters miss, and filters of pipelines/ that start runs for modules the program never imports."""
    needed = program_files() | set(ALSO)
    problems = [f"{file} is not covered" for file in sorted(needed) if not filter_patterns(paths).matches(file)]
    for pattern in paths:
        matched = [file for file in repository_files() if filter_patterns([pattern]).matches(file)]
        if not matched:
            problems.append(f"{pattern} matches no file")
        if pattern.startswith("pipelines/"):
            problems += [
                f"{pattern} matches {file}, which the program does not import" for file in matched if file not in needed
            ]
    return problems


def test_the_program_reaches_the_catalog_and_the_stack_config_reader():
    files = program_files()
    assert {"infra/__main__.py", "pipelines/core/catalog.py", "pipelines/deploy/pins.py"} <= files
    assert "pipelines/commands/promote.py" not in files


@pytest.mark.parametrize(("name", "event"), sorted(PULUMI_WORKFLOWS.items()))
def test_the_pulumi_workflows_watch_everything_the_program_runs(workflows, filter_patterns, name, event):
    paths = workflows[name].triggers[event]["paths"]
    assert filter_problems(paths, filter_patterns) == []


def test_the_filter_check_rejects_a_missing_module_and_a_stray_one(workflows, filter_patterns):
    paths = list(workflows["deploy.yml"].triggers["push"]["paths"])
    # The bug: only the catalog was watched.
    before = ["infra/**", "Pulumi*.yaml", "pipelines/core/catalog.py"]
    problems = filter_problems(before, filter_patterns)
    assert "pipelines/deploy/pins.py is not covered" in problems
    assert "constraints.txt is not covered" in problems
    stray = filter_problems([*paths, "pipelines/commands/promote.py"], filter_patterns)
    assert stray == [
        "pipelines/commands/promote.py matches pipelines/commands/promote.py, which the program does not import"
    ]
