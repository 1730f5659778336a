"""Every workflow as GitHub itself reads it: `parseWorkflow`, then `convertWorkflowTemplate`, with no error.

The parser is the one of GitHub's Actions language services (`@actions/workflow-parser`, pinned by
tests/workflows/parser/package-lock.json), so the keys, expressions and triggers it accepts are
GitHub's own, and the conversion loads each local reusable workflow a job calls and checks the inputs
passed to it. The controls are copies of our workflows broken as a real edit would break them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workflows.conftest import REPO_ROOT, WORKFLOWS_DIR
from tests.workflows.github_parser import GithubParser


@pytest.fixture(scope="module")
def parser() -> Iterator[GithubParser]:
    started = GithubParser()
    yield started
    started.close()


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    """Every workflow file, by its path in the repository (the form `uses: $/…` names them in)."""
    paths = sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])
    return {path.relative_to(REPO_ROOT).as_posix(): path.read_text(encoding="utf-8") for path in paths}


def test_every_workflow_parses_and_converts_without_an_error(parser, files):
    errors = parser.errors(files)
    assert set(errors) == set(files)
    assert {path: found for path, found in errors.items() if found} == {}


@pytest.mark.parametrize(
    ("name", "old", "new", "error"),
    [
        # A key GitHub does not know, where the JSON schema would still let a misspelling through unnoticed.
        ("ci.yml", "    timeout-minutes: 30\n", "    timeout-minute: 30\n", "Unexpected value 'timeout-minute'"),
        ("ci.yml", "  pull_request:\n", "  pull_requests:\n", "Unexpected value 'pull_requests'"),
        (
            "ci.yml",
            "${{ github.event_name == 'pull_request' }}\n",
            "${{ github.event_name == }}\n",
            "Unexpected end of expression",
        ),
        # An input the called reusable workflow does not declare: seen only by loading that workflow.
        (
            "build-percolate.yml",
            "      project: percolate\n",
            "      project: percolate\n      projet: percolate\n",
            "projet is not defined in the referenced workflow",
        ),
    ],
)
def test_the_parser_rejects_its_controls(parser, files, name, old, new, error):
    path = f".github/workflows/{name}"
    assert files[path].count(old) == 1, f"the control's text is not in {name} once"
    broken = {**files, path: files[path].replace(old, new)}
    found = parser.errors(broken)[path]
    assert any(error in line for line in found), found
