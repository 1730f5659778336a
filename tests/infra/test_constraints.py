"""constraints.txt: what the tests ran with is what every workflow installs (the Pulumi jobs included)."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")


def pins() -> dict[str, str]:
    found = {}
    for number, line in enumerate((REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"constraints.txt:{number}: {line!r} is not NAME==VERSION"
        found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def requirements() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["test"]]


def test_every_dependency_is_pinned_inside_its_range():
    pinned = pins()
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in constraints.txt: refresh it (docs/infra.md)"
        assert Version(pinned[name]) in requirement.specifier, f"{name}=={pinned[name]} is outside {requirement}"


def test_the_tests_run_with_exactly_the_pinned_versions():
    """A venv that drifted from constraints.txt would test something the workflows never install."""
    drifted = []
    for name, version in pins().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            drifted.append(f"{name}=={version} is not installed")
            continue
        if Version(installed) != Version(version):
            drifted.append(f"{name}: installed {installed}, pinned {version}")
    assert drifted == [], "the venv differs from constraints.txt (make clean venv, or refresh the pins):\n" + "\n".join(
        drifted
    )


def test_the_pulumi_github_floor_has_every_field_the_program_declares():
    """Below 6.12 shaPinningRequired is missing, 6.12 has no ActionsSecret.value, 6.13-6.14 reject a User bypass."""
    [github] = [r for r in requirements() if canonicalize_name(r.name) == "pulumi-github"]
    for too_old in ("6.11.0", "6.12.0", "6.13.0", "6.14.9"):
        assert Version(too_old) not in github.specifier
    assert Version("6.15.0") in github.specifier


def test_make_venv_installs_the_pins():
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --constraint constraints.txt -e '.[test]'" in makefile
    assert re.search(r"^\$\(VENV\)/\.installed: .*\bconstraints\.txt\b", makefile, re.MULTILINE)
