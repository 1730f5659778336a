"""The package's shape, as the README promises it: folders by lifecycle stage, imports that only run
downwards, no module too long to read in one sitting, and no two modules whose names differ by a suffix."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "pipelines"
# What each part of the package may import, by layer: a module may import its own layer and any below.
# The stages (layer 3) are independent of each other; staging and dashboard (layer 4) compose them.
LAYERS = {
    "core": 0,
    "edges": 1,
    "plan": 2,
    "images.registry": 2,  # the registry's client, an edge kept in its stage's folder: below every stage
    "images": 3,
    "wheels": 3,
    "deploy": 3,
    "health": 3,
    "notes": 3,
    "notify": 3,
    "perf": 3,
    "staging": 4,
    "dashboard": 4,
    "commands": 5,
    "output": 5,
    "cli": 6,
    "__main__": 7,
}
STAGES = {"images", "wheels", "deploy", "health", "notes", "notify", "perf"}
SUBPARTS = {"images.registry"}  # folders inside a part that are parts of their own, on their own layer
# Imports that break the layers today, each named so that none is added unseen and a fixed one leaves the
# list: issue 24, item 7.
KNOWN_UPWARD: list[str] = []
MAX_LINES = 400


def part_of(module: str) -> str:
    """`pipelines.images.reading` -> `images`; `pipelines.images.registry.client` -> `images.registry`;
    `pipelines.cli` -> `cli`."""
    parts = module.split(".")
    if len(parts) < 2:
        return "__init__"
    sub = ".".join(parts[1:3])
    return sub if len(parts) >= 3 and sub in SUBPARTS else parts[1]


def pipelines_imports(path: Path) -> list[tuple[int, str]]:
    """Every `pipelines.…` module `path` imports (also inside functions), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipelines"):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("pipelines")]
    return found


def module_name(path: Path, root: Path = REPO_ROOT) -> str:
    relative = path.relative_to(root).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def upward_imports(paths: list[Path], root: Path = REPO_ROOT) -> list[str]:
    """Each import in `paths` (files under `root`) that runs up a layer or across from one stage to another."""
    problems = []
    for path in paths:
        source = module_name(path, root)
        if source == "pipelines":
            continue
        here = part_of(source)
        for line, target in pipelines_imports(path):
            there = part_of(target)
            if there == "__init__" or there == here:
                continue
            if LAYERS[there] > LAYERS[here] or (there in STAGES and here in STAGES):
                problems.append(f"{path.relative_to(root).as_posix()}:{line}: {here} imports {target}")
    return problems


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_layer():
    assert {part_of(module_name(p)) for p in modules()} - {"__init__"} <= set(LAYERS)


def test_imports_only_run_downwards():
    assert upward_imports(modules()) == KNOWN_UPWARD


@pytest.mark.parametrize(
    ("module", "source", "caught"),
    [
        ("core/rogue.py", "from pipelines.images.rules import choose_build\n", "core imports pipelines.images.rules"),
        ("wheels/rogue.py", "import pipelines.deploy.pins\n", "wheels imports pipelines.deploy.pins"),
        ("images/fine.py", "from pipelines.core.tags import parse_tag\n", None),
    ],
    ids=["upward", "across-stages", "downward"],
)
def test_an_upward_import_is_caught(tmp_path, module, source, caught):
    """The controls: the checking function itself, on a package written under a temporary root."""
    rogue = tmp_path / "pipelines" / module
    rogue.parent.mkdir(parents=True)
    rogue.write_text(source)
    expected = [f"pipelines/{module}:1: {caught}"] if caught else []
    assert upward_imports([rogue], root=tmp_path) == expected


def test_no_module_is_too_long_to_read_in_one_sitting():
    """The package and the Pulumi program alike."""
    program = sorted((REPO_ROOT / "infra").rglob("*.py"))
    long = {
        str(p.relative_to(REPO_ROOT)): n
        for p in [*modules(), *program]
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


SUFFIXES = {"", "s", "r", "er", "ers", "ing", "ment", "file", "files", "config", "_file", "_files", "_config"}


def suffix_twins(names: list[str]) -> list[tuple[str, str]]:
    """Pairs like promote/promoter, stackconfig/stackfile or versions/versionfiles: a shared stem of four
    letters or more, and the rest of each name one of the suffixes that tell nobody what differs."""
    twins = []
    stems = sorted(set(names))
    for i, left in enumerate(stems):
        for right in stems[i + 1 :]:
            common = 0
            while common < min(len(left), len(right)) and left[common] == right[common]:
                common += 1
            for stem_length in range(common, 3, -1):
                if left[stem_length:] in SUFFIXES and right[stem_length:] in SUFFIXES:
                    twins.append((left, right))
                    break
    return twins


def test_no_two_modules_differ_only_by_a_suffix():
    names = [p.stem for p in modules() if p.stem != "__init__"]
    assert suffix_twins(names) == []


@pytest.mark.parametrize(
    "pair",
    [("promote", "promoter"), ("stackconfig", "stackfile"), ("versionfiles", "versions"), ("wheelfile", "wheels")],
)
def test_suffix_twins_are_recognised(pair):
    assert suffix_twins(list(pair)) == [pair]


@pytest.mark.parametrize(
    "pair", [("cli", "client"), ("tag", "tags"), ("release", "release_commit"), ("rules", "rollback")]
)
def test_names_that_say_what_differs_are_not_twins(pair):
    assert suffix_twins(list(pair)) == []
