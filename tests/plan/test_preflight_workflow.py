"""`.github/workflows/preflight.yml`: by hand only, in environment production with its credentials by name, and
a step that fails the run when preflight fails or a credential reached it empty.

The step's script runs under bash with a stand-in `python` on the PATH that records its arguments and
exits as told, with each credential set and empty.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "preflight.yml"
STEP = "python -m pipelines preflight"


def workflow() -> Any:
    return YAML(typ="safe", pure=True).load(WORKFLOW.read_text())


def step() -> dict[str, Any]:
    (found,) = [s for s in workflow()["jobs"]["preflight"]["steps"] if s.get("name") == STEP]
    return dict(found)


def test_it_runs_by_hand_in_production_reading_only():
    document = workflow()
    assert set(document["on"]) == {"workflow_dispatch"}
    assert document["permissions"] == {}
    job = document["jobs"]["preflight"]
    assert job["environment"] == {"name": "production"}
    assert job["permissions"] == {"contents": "read", "packages": "read"}


def test_the_credentials_are_handed_to_the_preflight_step_by_name():
    env = step()["env"]
    assert env["GITHUB_TOKEN"] == "${{ secrets.INFRA_GITHUB_TOKEN }}"
    assert env["PERCOLATE_GIT_PAT"] == "${{ secrets.PERCOLATE_GIT_PAT }}"
    assert env["REGISTRY_PASSWORD"] == "${{ github.token }}"
    kubeconfig_steps = [s for s in workflow()["jobs"]["preflight"]["steps"] if "secrets.KUBECONFIG" in str(s)]
    assert len(kubeconfig_steps) == 1 and "umask 077" in kubeconfig_steps[0]["run"]


def run_step(
    tmp_path: Path, *, code: int, stack: str = "all", kubeconfig: bool = True, **env: str
) -> tuple[int, str, str]:
    """The step's script under bash, `python` a stand-in that exits `code`; (exit, its arguments, stdout)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/arguments"\nexit {code}\n')
    fake.chmod(0o755)
    runner_temp = tmp_path / "runner"
    (runner_temp / "kube").mkdir(parents=True, exist_ok=True)
    if kubeconfig:
        (runner_temp / "kube" / "prod").write_text("apiVersion: v1\n")
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "STACK": stack,
        "GITHUB_TOKEN": "github_pat_set",
        "PERCOLATE_GIT_PAT": "github_pat_set",
        **env,
    }
    # As the runner runs a `shell: bash` step: bash --noprofile --norc -eo pipefail.
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step()["run"]]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    return result.returncode, (tmp_path / "arguments").read_text().strip(), result.stdout


def test_the_step_passes_when_preflight_passes_and_hands_over_the_kubeconfig(tmp_path):
    code, arguments, out = run_step(tmp_path, code=0)
    assert (code, out) == (0, "")
    assert arguments == f"-m pipelines preflight --stack all --kubeconfig {tmp_path}/runner/kube/prod"


def test_the_step_fails_when_preflight_fails(tmp_path):
    assert run_step(tmp_path, code=1)[0] == 1


@pytest.mark.parametrize(
    ("variable", "secret"), [("GITHUB_TOKEN", "INFRA_GITHUB_TOKEN"), ("PERCOLATE_GIT_PAT", "PERCOLATE_GIT_PAT")]
)
def test_an_empty_credential_fails_the_step_naming_it(tmp_path, variable, secret):
    code, _, out = run_step(tmp_path, code=0, **{variable: " "})
    assert code == 1
    assert f"::error title={secret} is empty::" in out


def test_an_empty_kubeconfig_fails_the_step_unless_only_staging_is_checked(tmp_path):
    code, arguments, out = run_step(tmp_path, code=0, kubeconfig=False)
    assert code == 1 and "::error title=KUBECONFIG is empty::" in out
    assert "--kubeconfig" not in arguments  # preflight then says clusters.prod is skipped, and why
    assert run_step(tmp_path, code=0, kubeconfig=False, stack="staging")[0] == 0
