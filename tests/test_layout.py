"""The package's shape, as the README promises it: folders by lifecycle stage, imports that only run
downwards and never in a circle, no module too long to read in one sitting, and no two modules whose names differ
by a suffix."""

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


def import_circles(paths: list[Path], root: Path = REPO_ROOT) -> list[list[str]]:
    """Each set of modules in `paths` that import one another in a circle (imports inside functions count too),
    as sorted names; found as the strongly connected components of the import graph."""
    names = {module_name(path, root): path for path in paths}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        targets = set()
        for _, imported in pipelines_imports(path):
            target = imported
            while target not in names and "." in target:  # `from pipelines.x import y`: y may be a name in x
                target = target.rsplit(".", 1)[0]
            if target in names and target not in (name, "pipelines"):
                targets.add(target)
        graph[name] = targets
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return sorted(circles)


def test_no_two_modules_import_each_other():
    assert import_circles(modules()) == []


def test_an_import_circle_is_caught(tmp_path):
    """The control: two command modules that import each other, one of them inside a function."""
    folder = tmp_path / "pipelines" / "commands"
    folder.mkdir(parents=True)
    (folder / "wheels.py").write_text("from pipelines.commands.wheel_staging import record\n")
    (folder / "wheel_staging.py").write_text("def record():\n    from pipelines.commands.wheels import project\n")
    (folder / "tag.py").write_text("from pipelines.commands.wheels import find\n")
    found = import_circles(sorted(folder.glob("*.py")), root=tmp_path)
    assert found == [["pipelines.commands.wheel_staging", "pipelines.commands.wheels"]]


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


# Test folders that are not named after a part of the package: shared machinery, the docs, the workflows,
# the Pulumi program and the examples. Tests of pipelines/cli.py and output.py, and of the CLI as a whole, sit
# at the top of tests/.
NOT_PARTS = {"support", "docs", "workflows", "infra", "examples"}


def folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}


def unmirrored(package: Path, tests: Path) -> tuple[set[str], set[str]]:
    """Test folders named after no part, and parts without a test folder (commands are tested with their stage)."""
    parts = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    return folders(tests) - NOT_PARTS - parts, parts - {"commands"} - folders(tests)


def test_the_tests_mirror_the_package():
    """The test of pipelines/X/y.py is found in tests/X/ (issue 24, item 6)."""
    assert unmirrored(PACKAGE, REPO_ROOT / "tests") == (set(), set())


def test_a_test_folder_named_after_no_part_is_caught(tmp_path):
    package, tests = tmp_path / "pipelines", tmp_path / "tests"
    for part in ("core", "images", "commands"):
        (package / part).mkdir(parents=True)
        (package / part / "__init__.py").touch()
    for folder in ("core", "registry", "support"):
        (tests / folder).mkdir(parents=True)
    assert unmirrored(package, tests) == ({"registry"}, {"images"})


# The kit of local services (issue 24, item 5) sits between the package and the tests: the demo, the benchmarks
# and the kit itself never import the tests, and the shipped package and the Pulumi program never import the kit
# (it is not in the wheel).
FORBIDDEN = {"examples": "tests", "benchmarks": "tests", "kit": "tests", "pipelines": "kit", "infra": "kit"}


def top_level_imports(path: Path) -> set[str]:
    """The top-level packages `path` imports (also inside functions), relative imports left out."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
    return found


def forbidden_imports(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)} imports {forbidden}"
        for folder, forbidden in FORBIDDEN.items()
        for path in sorted((root / folder).rglob("*.py"))
        if forbidden in top_level_imports(path)
    ]


def test_the_kit_sits_between_the_package_and_the_tests():
    assert forbidden_imports(REPO_ROOT) == []


def test_an_import_across_the_kit_is_caught(tmp_path):
    files = {
        "examples/demo.py": "import os\n\ndef scene():\n    from tests.support import answers\n",
        "benchmarks/bench.py": "from kit.registry import LocalRegistry\n",
        "kit/git.py": "import tests.conftest\n",
        "pipelines/core/tags.py": "from kit import git\n",
        "infra/__main__.py": "from . import kit\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert forbidden_imports(tmp_path) == [
        "examples/demo.py imports tests",
        "kit/git.py imports tests",
        "pipelines/core/tags.py imports kit",
    ]
