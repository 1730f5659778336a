"""The very first release whose health gate fails: `rollback` on a real git history of the stack file.

Before its first release a project's entry holds only its repository, and its Application runs the
manifests' own image. When the first release fails its gate there is no earlier release to restore,
so the rollback takes the entry back to that state, with the failed version blocked: the Application
loses its image override (the program declares it unreleased, as before the release) and promote
refuses the version from then on. deploy.yml then runs `pulumi up` and opens the rollback pull request,
as after any rollback.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.argocd import UNRELEASED, UNRELEASED_ANNOTATION
from infra.policy import images_pinned_by_digest
from infra.render import run_program
from pipelines.deploy.pins import IMAGES_KEY, ImagePin
from pipelines.deploy.write_back import StackFile
from tests.deploy.conftest import _promotion_record
from tests.infra.conftest import Answers, base_config, flatten, registry_matching

GOLDEN = Path(__file__).parent / "data" / "Pulumi.prod.golden.yaml"  # percolate-reading is not released in it
READING = "ghcr.io/percolation-labs/percolate-reading"
APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"


@pytest.fixture
def stack(monorepo) -> StackFile:
    path = monorepo.root / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    monorepo.commit_all("the prod stack: percolate-reading not released yet")
    return StackFile(path)


def deploy(monorepo, stack: StackFile, pin: ImagePin) -> None:
    """What a merged deploy pull request brings to main (a fresh reader: the file may have changed since)."""
    StackFile(stack.path).write_pin(pin)
    monorepo.commit_all(f"deploy {pin.project} {pin.version}")


def roll_back(monorepo) -> None:
    """What deploy.yml's rollback pull request brings to main."""
    monorepo.commit_all("roll back")


def test_a_failed_first_release_goes_back_to_not_released_with_the_version_blocked(cli, monorepo, stack, make_pin):
    deploy(monorepo, stack, make_pin("percolate-reading", "0.1.0"))
    before = stack.path.read_text()

    result = cli("rollback", "percolate-reading", "--json", cwd=monorepo.root)

    assert result.code == 0, result.stderr
    assert result.json() == {
        "file": str(stack.path),
        "dry_run": False,
        "from_version": "0.1.0",
        "project": "percolate-reading",
        "repository": READING,
        "blocked": ["0.1.0"],
    }
    assert stack.pin("percolate-reading") == ImagePin("percolate-reading", READING, blocked=("0.1.0",))
    # Only the entry changed: every line before it is as it was, percolate's release included.
    after = stack.path.read_text()
    head = before[: before.index("    percolate-reading:")]
    assert after.startswith(head) and stack.pin("percolate") == StackFile(GOLDEN).pin("percolate")
    assert after[len(head) :] == (
        "    percolate-reading:\n      repository: ghcr.io/percolation-labs/percolate-reading\n"
        "      blocked: [0.1.0]\n" + before[before.index("  percolate-platform:argocd:") :]
    )


def test_the_text_says_what_runs_now(cli, monorepo, stack, make_pin):
    deploy(monorepo, stack, make_pin("percolate-reading", "0.1.0"))
    result = cli("rollback", "percolate-reading", cwd=monorepo.root)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(
        "rolled back percolate-reading 0.1.0 -> not released (its Application runs the manifests' own image) in "
    )
    assert "0.1.0 is now blocked" in result.stdout
    assert f"percolate-reading: {READING} (not released yet), blocked 0.1.0" in result.stdout


def test_after_the_rollback_the_program_declares_the_application_unreleased_and_promote_refuses(
    cli, monorepo, stack, make_pin
):
    failed = make_pin("percolate-reading", "0.1.0")
    deploy(monorepo, stack, failed)
    assert cli("rollback", "percolate-reading", cwd=monorepo.root).code == 0
    roll_back(monorepo)

    # The Pulumi program (under its mocks) with the images subtree the rollback wrote.
    config = base_config()
    config[IMAGES_KEY] = stack.document()["config"][IMAGES_KEY]
    config[IMAGES_KEY]["percolate"] = base_config()[IMAGES_KEY]["percolate"]
    rendering = run_program(flatten(config), Answers(registry=registry_matching(config)))
    [reading] = [a for a in rendering.of_type(APPLICATION) if a.inputs["metadata"]["name"] == "percolate-reading"]
    assert "kustomize" not in reading.inputs["spec"]["source"]
    assert reading.inputs["metadata"]["annotations"] == {UNRELEASED_ANNOTATION: UNRELEASED}
    assert rendering.outputs["argocdImages"]["percolate-reading"] is None  # deploy.yml runs no gate for it
    assert images_pinned_by_digest(rendering.resources) == []

    # The failed version is never deployed by automation again; the next one is.
    promotion = monorepo.root / "promote.json"
    promotion.write_text(json.dumps(_promotion_record(failed)))
    refused = cli("stack-config", "set-image", "percolate-reading", "--promotion", str(promotion), cwd=monorepo.root)
    assert refused.code == 1 and "percolate-reading 0.1.0 is blocked" in refused.stderr
    promotion.write_text(json.dumps(_promotion_record(make_pin("percolate-reading", "0.1.1"))))
    fixed = cli("stack-config", "set-image", "percolate-reading", "--promotion", str(promotion), cwd=monorepo.root)
    assert fixed.code == 0, fixed.stderr
    assert stack.pin("percolate-reading").blocked == ("0.1.0",)


def test_a_second_failed_release_after_a_failed_first_goes_back_to_not_released_too(cli, monorepo, stack, make_pin):
    deploy(monorepo, stack, make_pin("percolate-reading", "0.1.0"))
    assert cli("rollback", "percolate-reading", cwd=monorepo.root).code == 0
    roll_back(monorepo)
    deploy(monorepo, stack, make_pin("percolate-reading", "0.2.0", blocked=("0.1.0",)))

    result = cli("rollback", "percolate-reading", cwd=monorepo.root)

    assert result.code == 0, result.stderr
    assert stack.pin("percolate-reading") == ImagePin("percolate-reading", READING, blocked=("0.1.0", "0.2.0"))


def test_a_project_the_file_did_not_name_before_its_first_release_goes_back_to_not_released(
    cli, monorepo, stack, make_pin
):
    # The images subtree without percolate-reading at all: an absent entry is an unreleased image too.
    text = stack.path.read_text()
    stack.path.write_text(re.sub(r"\n    # The reading service.*\n    percolate-reading:\n.*\n", "\n", text))
    monorepo.commit_all("no percolate-reading entry")
    assert StackFile(stack.path).pin("percolate-reading") is None
    deploy(monorepo, StackFile(stack.path), make_pin("percolate-reading", "0.1.0"))

    assert cli("rollback", "percolate-reading", cwd=monorepo.root).code == 0
    assert StackFile(stack.path).pin("percolate-reading") == ImagePin("percolate-reading", READING, blocked=("0.1.0",))


def test_earlier_releases_all_blocked_by_a_person_are_not_undone(cli, monorepo, stack, make_pin):
    """Not a first release: 0.1.0 ran before 0.2.0, and a person blocked it. Nothing is chosen for them."""
    deploy(monorepo, stack, make_pin("percolate-reading", "0.1.0"))
    deploy(monorepo, stack, make_pin("percolate-reading", "0.2.0", blocked=("0.1.0",)))
    before = stack.path.read_bytes()

    result = cli("rollback", "percolate-reading", cwd=monorepo.root)

    assert result.code == 1
    assert "in the history of Pulumi.prod.yaml (earlier versions: 0.1.0)" in result.stderr
    assert stack.path.read_bytes() == before


def test_a_history_that_does_not_show_the_unreleased_state_refuses(cli, monorepo, stack, make_pin, tmp_path):
    """A shallow clone holds only the release's commit: nothing says what ran before, so nothing is guessed."""
    deploy(monorepo, stack, make_pin("percolate-reading", "0.1.0"))
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{monorepo.root}", str(clone)],
        check=True,
        env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"},
    )
    before = (clone / "Pulumi.prod.yaml").read_bytes()

    result = cli("rollback", "percolate-reading", cwd=clone)

    assert result.code == 1
    assert "earlier versions: none" in result.stderr
    assert (clone / "Pulumi.prod.yaml").read_bytes() == before
