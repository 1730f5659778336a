"""Fixtures every test area shares: a real git monorepo in a temp folder and the CLI run as a subprocess.

Area-specific fixtures (Pulumi mocks, package index, ...) live in the conftest.py of that area's folder;
the registry's (one docker-registry per session, a namespace per test) serve images, staging, plan and infra,
so they are a plugin of their own, tests/support/registry_fixtures.py.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from kit.git import git

pytest_plugins = ["tests.support.registry_fixtures"]

# CI runs the same examples every time (a red build is reproducible from its log) and never fails a
# property for being slow on a loaded runner; locally, exploration stays random. Pick with
# HYPOTHESIS_PROFILE, else CI=… in the environment chooses "ci".
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_MONOREPO = REPO_ROOT / "examples" / "monorepo"


@dataclass
class Monorepo:
    """A temp copy of examples/monorepo as a git repository with one commit on main."""

    root: Path

    def git(self, *args: str) -> str:
        return git(self.root, *args)

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tag(self, name: str, ref: str = "HEAD") -> None:
        self.git("tag", "-a", name, "-m", name, ref)

    @property
    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no remembered secret: what one test's client remembered must not mask another's
    output, or a test would pass only after another ran in the same process."""
    from pipelines.core import secrets

    monkeypatch.setattr(secrets, "_SETS", [secrets.Secrets()])


@pytest.fixture
def monorepo(tmp_path: Path) -> Monorepo:
    root = tmp_path / "monorepo"
    shutil.copytree(EXAMPLE_MONOREPO, root)
    repo = Monorepo(root)
    repo.git("init", "-q", "-b", "main")
    repo.commit_all("initial import")
    return repo


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def assert_clean(self, code: int, *secrets: str) -> None:
        """Exit `code`, no traceback, and none of `secrets` anywhere in the output."""
        output = self.stdout + self.stderr
        assert self.code == code, output
        assert "Traceback" not in output, output
        for secret in secrets:
            assert secret not in output


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    """Run `python -m pipelines ARGS` in a subprocess, as a workflow step would."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        check=False,
        cwd=cwd or REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return CliResult(result.returncode, result.stdout, result.stderr)


def run_cli_in_process(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    """`python -m pipelines ARGS` in this process: what `run_cli` does (the same environment, working folder
    and output), without a new interpreter's start-up. Tests where the process boundary is the point (a
    signal, an exec plugin, start-up imports, a hang guard) call `run_cli`."""
    from pipelines.cli import main

    saved_environment, saved_folder = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update({k: v for k, v in saved_environment.items() if not k.startswith("GITHUB_")})
        os.environ.update(env or {})
        os.chdir(cwd or REPO_ROOT)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse: --help (0) and usage errors (2)
                code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    finally:
        os.chdir(saved_folder)
        os.environ.clear()
        os.environ.update(saved_environment)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli_in_process
