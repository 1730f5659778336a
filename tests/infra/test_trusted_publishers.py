"""Trusted publishers: one data definition, checked against workflow files (fixtures here, the real ones too)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.catalog import PYPI, TESTPYPI
from pipelines.core.errors import InputError
from pipelines.wheels.trusted_publishers import (
    WorkflowFiles,
    check_publisher,
    expected_publishers,
    parse_workflow,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PIN = "ed0c53931b1dc9bd32cbe73a98c7f6766f8a527e"
PUBLISH = f"pypa/gh-action-pypi-publish@{PIN}"

RELEASE = f"""
name: release
on: {{push: {{tags: ["percolate-rocks-v*"]}}}}
permissions: {{}}
jobs:
  sign:
    runs-on: ubuntu-latest
    permissions: {{id-token: write}}
    steps: [{{run: sign}}]
  publish-pypi:
    runs-on: ubuntu-latest
    environment: production
    permissions: {{id-token: write}}
    steps:
      - uses: pypa/gh-action-pypi-publish@{PIN}
        with: {{attestations: true}}
"""
BUILD = f"""
name: build
on: {{push: {{tags: ["percolate-rocks-v*-rc*"]}}}}
permissions: {{}}
jobs:
  test:
    runs-on: ubuntu-latest
    permissions: {{contents: read}}
    steps: [{{run: make test}}]
  publish-testpypi:
    runs-on: ubuntu-latest
    environment: {{name: staging, url: "https://test.pypi.org/p/percolate-rocks"}}
    permissions: {{id-token: write}}
    steps:
      - uses: pypa/gh-action-pypi-publish@{PIN}
        with: {{repository-url: "https://test.pypi.org/legacy/"}}
"""


def publishers():
    return {p.index.name: p for p in expected_publishers("percolation-labs", "percolate")}


def test_the_expected_publishers_follow_the_catalog():
    found = publishers()
    assert found["pypi"].index is PYPI and found["testpypi"].index is TESTPYPI
    assert found["pypi"].form() == {
        "PyPI Project Name": "percolate-rocks",
        "Owner": "percolation-labs",
        "Repository name": "percolate",
        "Workflow name": "release-rocks.yml",
        "Environment name": "production",
    }
    assert (found["testpypi"].workflow, found["testpypi"].environment) == ("build-rocks.yml", "staging")
    assert found["testpypi"].settings_url == "https://test.pypi.org/manage/project/percolate-rocks/settings/publishing/"


def _check(index: str, text: str | None) -> list[str]:
    import yaml

    publisher = publishers()[index]
    workflow = parse_workflow(publisher.workflow, yaml.safe_load(text)) if text is not None else None
    return check_publisher(publisher, workflow)


def test_good_workflows_pass():
    assert _check("pypi", RELEASE) == []
    assert _check("testpypi", BUILD) == []


@pytest.mark.parametrize(
    ("index", "text", "problem"),
    [
        ("pypi", None, "release-rocks.yml does not exist"),
        (
            "pypi",
            RELEASE.replace("environment: production", "environment: staging"),
            "publishes in environment staging, not production",
        ),
        ("pypi", RELEASE.replace("    environment: production\n", ""), "publishes in environment (none)"),
        (
            "pypi",
            RELEASE.replace("permissions: {}", "permissions: {id-token: write}"),
            "workflow-level permissions grant id-token",
        ),
        (
            "pypi",
            RELEASE.replace("permissions: {}", "permissions: write-all"),
            "workflow-level permissions grant id-token",
        ),
        (
            "pypi",
            RELEASE.replace(
                "    environment: production\n    permissions: {id-token: write}",
                "    environment: production\n    permissions: {contents: read}",
            ),
            "publishes without permissions: id-token: write",
        ),
        (
            "pypi",
            RELEASE.replace(
                "    runs-on: ubuntu-latest\n    permissions: {id-token: write}\n    steps: [{run: sign}]",
                "    runs-on: ubuntu-latest\n    environment: production\n"
                "    permissions: {id-token: write}\n    steps: [{run: sign}]",
            ),
            "job sign runs in environment production with id-token: write but does not publish",
        ),
        (
            "pypi",
            RELEASE.replace("{attestations: true}", "{repository-url: 'https://test.pypi.org/legacy/'}"),
            "uploads to https://test.pypi.org/legacy/, not https://upload.pypi.org/legacy/",
        ),
        (
            "pypi",
            RELEASE.replace("{attestations: true}", "{password: '${{ secrets.PYPI_API_TOKEN }}'}"),
            "passes a password (API token)",
        ),
        (
            "pypi",
            RELEASE.replace(f"pypa/gh-action-pypi-publish@{PIN}", "some/other-action@v1"),
            "no job uses pypa/gh-action-pypi-publish",
        ),
        (
            "testpypi",
            BUILD.replace('{repository-url: "https://test.pypi.org/legacy/"}', "{attestations: true}"),
            "uploads to https://upload.pypi.org/legacy/, not https://test.pypi.org/legacy/",
        ),
        (
            "testpypi",
            BUILD.replace("name: staging", "name: production"),
            "publishes in environment production, not staging",
        ),
    ],
)
def test_bad_workflows_are_refused_with_the_reason(index, text, problem):
    problems = _check(index, text)
    assert any(problem in p for p in problems), problems


def _folder(tmp_path: Path, release: str | None = RELEASE, build: str | None = BUILD) -> Path:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    if release is not None:
        (folder / "release-rocks.yml").write_text(release)
    if build is not None:
        (folder / "build-rocks.yml").write_text(build)
    return folder


def test_the_command_prints_the_form_and_checks_fixture_workflows(cli, tmp_path):
    folder = _folder(tmp_path)
    result = cli(
        "trusted-publishers",
        "--repository",
        "percolation-labs/percolate",
        "--workflows",
        str(folder),
        "--root",
        str(tmp_path),
    )
    assert result.code == 0, result.stderr
    assert "Workflow name      release-rocks.yml" in result.stdout
    assert "Environment name   staging" in result.stdout
    assert "https://pypi.org/manage/account/publishing/" in result.stdout
    data = cli(
        "trusted-publishers", "--repository", "acme/mono", "--workflows", str(folder), "--root", str(tmp_path), "--json"
    ).json()
    assert data["ok"] is True
    assert [(p["index"], p["owner"], p["repository"], p["problems"]) for p in data["publishers"]] == [
        ("pypi", "acme", "mono", []),
        ("testpypi", "acme", "mono", []),
    ]


def test_the_command_fails_on_bad_workflows(cli, tmp_path):
    folder = _folder(tmp_path, release=RELEASE.replace("environment: production", "environment: staging"), build=None)
    result = cli(
        "trusted-publishers",
        "--repository",
        "percolation-labs/percolate",
        "--workflows",
        str(folder),
        "--root",
        str(tmp_path),
        "--json",
    )
    assert result.code == 1
    problems = {p["index"]: p["problems"] for p in result.json()["publishers"]}
    assert any("not production" in p for p in problems["pypi"])
    assert problems["testpypi"] == [".github/workflows/build-rocks.yml does not exist"]
    text = cli(
        "trusted-publishers",
        "--repository",
        "percolation-labs/percolate",
        "--workflows",
        str(folder),
        "--root",
        str(tmp_path),
    )
    assert text.code == 1 and "check: FAILED" in text.stdout and "Traceback" not in text.stderr


def test_the_repository_comes_from_the_stack_config_by_default(cli, tmp_path):
    folder = _folder(tmp_path)
    stack = tmp_path / "Pulumi.prod.yaml"
    stack.write_text("config:\n  percolate-platform:repository:\n    owner: someone\n    name: elsewhere\n")
    data = cli("trusted-publishers", "--workflows", str(folder), "--root", str(tmp_path), "--json").json()
    assert {(p["owner"], p["repository"]) for p in data["publishers"]} == {("someone", "elsewhere")}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--repository", "not a slug"], "is not OWNER/NAME"),
        (["--stack-config", "missing.yaml"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_message(cli, tmp_path, args, message):
    result = cli("trusted-publishers", "--root", str(tmp_path), *args)
    assert result.code == 2
    assert message in result.stderr and "hint:" in result.stderr and "Traceback" not in result.stderr


def test_a_stack_config_without_repository_is_bad_input(cli, tmp_path):
    (tmp_path / "Pulumi.prod.yaml").write_text("config: {}\n")
    result = cli("trusted-publishers", "--root", str(tmp_path))
    assert result.code == 2 and "percolate-platform:repository has no owner and name" in result.stderr


def test_help_has_a_description_and_examples(cli):
    result = cli("trusted-publishers", "--help")
    assert result.code == 0
    assert "PyPI has no" in result.stdout and "examples:" in result.stdout


def test_our_real_workflows_publish_as_the_publishers_say():
    workflows = WorkflowFiles(REPO_ROOT / ".github/workflows")
    for publisher in expected_publishers("percolation-labs", "percolate"):
        assert check_publisher(publisher, workflows.read(publisher.workflow)) == [], publisher.workflow


def test_a_malformed_workflow_file_is_an_input_error(tmp_path):
    folder = _folder(tmp_path, release="jobs: [unclosed", build=None)
    with pytest.raises(InputError, match="cannot read"):
        WorkflowFiles(folder).read("release-rocks.yml")


yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(["production", "staging", "write", "write-all", PUBLISH, ""]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["jobs", "steps", "uses", "with", "environment", "permissions", "id-token", "name", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=300)
@given(yaml_values)
def test_any_workflow_document_parses_or_is_an_input_error_and_checks_never_crash(document):
    try:
        workflow = parse_workflow("release-rocks.yml", document)
    except InputError as error:
        assert "has no jobs mapping" in error.message
        return
    for publisher in expected_publishers("o", "r"):
        assert all(isinstance(problem, str) for problem in check_publisher(publisher, workflow))
