"""deploy.yml's last word on a failed deployment names what really happened: rolled back, the rollback itself
failed (a first release with nothing to return to that could not be reset, a blocked history), or the gate
could not read Argo CD. The step's own script runs under bash with each outcome."""

from __future__ import annotations

import pytest

from tests.workflows.stand_ins import run_as_step


def fail_step(workflows) -> dict:
    (step,) = [
        s for s in workflows["deploy.yml"].data["jobs"]["deploy"]["steps"] if s.get("name") == "Fail the deployment"
    ]
    return step


def run(script: str, rolled_back: str, rollback_failed: str) -> str:
    result = run_as_step(
        script, {"ROLLED_BACK": rolled_back, "ROLLBACK_FAILED": rollback_failed, "PATH": "/usr/bin:/bin"}, timeout=10
    )
    assert result.returncode == 1
    return result.stdout


@pytest.mark.parametrize(
    ("rolled_back", "rollback_failed", "title"),
    [
        ("true", "false", "health gate failed"),
        ("false", "true", "rollback failed"),
        ("true", "true", "rollback failed"),  # one project rolled back, the other's rollback failed
        ("false", "false", "health gate could not read Argo CD"),
    ],
)
def test_the_failure_names_what_happened(workflows, rolled_back, rollback_failed, title):
    step = fail_step(workflows)

    said = run(step["run"], rolled_back, rollback_failed)

    assert said.startswith(f"::error title={title}::")
    assert "ROLLBACK_FAILED" in step["env"] and "'failure'" in step["env"]["ROLLBACK_FAILED"]


def test_control_the_former_script_blames_argo_cd_for_a_failed_rollback(workflows):
    former = fail_step(workflows)["run"].replace('if [ "$ROLLBACK_FAILED" = true ]; then', "if false; then")

    assert run(former, "false", "true").startswith("::error title=health gate could not read Argo CD::")
