"""SBOMs are made with syft (anchore/sbom-action), the tool docs/security.md chose over bom (issue 22, item 9).

What the releases need: an SPDX JSON SBOM of each platform image, read by its manifest digest (not the
index, which would mix platforms), attested to that image with cosign and verified; and one of
percolate-rocks' release files. The comparison and the choice are the last section of docs/security.md;
this test holds the workflows to it, and the section to what the workflows run. Controls: broken copies.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from pipelines.core.catalog import IMAGE_PLATFORMS
from tests.workflows.conftest import load_workflows

REPO_ROOT = Path(__file__).resolve().parents[2]
CHOSEN = "anchore/sbom-action"
RELEASE = "_release-image.yml"
ROCKS = "release-rocks.yml"


def sbom_steps(workflows: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every step that makes an SBOM: an SBOM action, or a script running an SBOM tool."""
    found = []
    for name, data in workflows.items():
        for job_id, job in (data.get("jobs") or {}).items():
            for step in job.get("steps") or []:
                uses = str(step.get("uses", ""))
                script = str(step.get("run", ""))
                if "sbom" in uses.lower() or "/bom" in uses or re.search(r"\b(?:bom generate|syft)\b", script):
                    found.append((name, job_id, step))
    return found


def sbom_problems(workflows: dict[str, Any]) -> list[str]:
    problems = []
    steps = sbom_steps(workflows)
    for name, job_id, step in steps:
        uses = str(step.get("uses", ""))
        if not uses.startswith(f"{CHOSEN}@"):
            problems.append(f"{name} {job_id}: makes an SBOM with {uses or 'a script'}, not {CHOSEN}")
        elif (step.get("with") or {}).get("format") != "spdx-json":
            problems.append(f"{name} {job_id}: the SBOM is not SPDX JSON")
    image_steps = [(job_id, step) for name, job_id, step in steps if name == RELEASE]
    if len(image_steps) != 1:
        return [*problems, f"{RELEASE}: {len(image_steps)} SBOM steps, not one per platform (a matrix)"]
    job_id, step = image_steps[0]
    job = workflows[RELEASE]["jobs"][job_id]
    arches = [entry["arch"] for entry in job["strategy"]["matrix"]["include"]]
    if sorted(arches) != sorted(IMAGE_PLATFORMS):
        problems.append(f"{RELEASE} {job_id}: SBOMs of {arches}, not of every platform {list(IMAGE_PLATFORMS)}")
    reference = next(s for s in job["steps"] if s.get("id") == "image")["run"]
    if "$REPOSITORY@$digest" not in reference or "digest-" not in str(job["steps"][0].get("env")):
        problems.append(f"{RELEASE} {job_id}: the SBOM is not of the platform image by its manifest digest")
    sign = workflows[RELEASE]["jobs"]["sign"]
    scripts = "\n".join(str(s.get("run", "")) for s in sign["steps"])
    for arch in IMAGE_PLATFORMS:
        predicate = f"--predicate sbom-{arch}.spdx.json"
        attest = f'cosign attest --yes --type spdxjson {predicate} "$REPOSITORY@$DIGEST_{arch.upper()}"'
        if attest not in scripts:
            problems.append(f"{RELEASE} sign: the {arch} image is not attested with its own SBOM")
    if "cosign verify-attestation --type spdxjson" not in scripts:
        problems.append(f"{RELEASE} sign: the attestations are not verified")
    if not any(name == ROCKS for name, _, _ in steps):
        problems.append(f"{ROCKS}: no SBOM of the release files")
    return problems


def chosen_in_docs() -> str:
    """The action the last section of docs/security.md chooses."""
    text = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    last = text.rsplit("\n## ", 1)[1]
    assert last.startswith("SBOMs"), "the SBOM comparison is the last section of docs/security.md"
    assert "bom" in last and "syft" in last and "| need |" in last, "it compares bom and syft"
    (choice,) = re.findall(r"\*\*Choice: [^*]*?`([\w./-]+)`[^*]*\*\*", last)
    return choice


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return {name: workflow.data for name, workflow in load_workflows().items()}


def test_every_sbom_is_made_with_the_chosen_tool_per_platform_and_attested(data):
    assert chosen_in_docs() == CHOSEN
    assert sbom_problems(data) == []


def _image_sbom(d: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in d[RELEASE]["jobs"]["sbom"]["steps"] if "sbom-action" in str(s.get("uses", "")))


def bom_instead(d: dict[str, Any]) -> None:
    step = _image_sbom(d)
    step.pop("uses")
    step.pop("with")
    step["run"] = 'bom generate --format json --image "$IMAGE" --output "sbom-$ARCH.spdx.json"'


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (bom_instead, "makes an SBOM with a script, not anchore/sbom-action"),
        (lambda d: _image_sbom(d)["with"].update(format="cyclonedx-json"), "not SPDX JSON"),
        (lambda d: d[RELEASE]["jobs"]["sbom"]["strategy"]["matrix"]["include"].pop(), "not of every platform"),
        (
            lambda d: d[RELEASE]["jobs"]["sbom"]["steps"][0].update(
                run='echo "reference=$REPOSITORY@$INDEX" >> "$GITHUB_OUTPUT"'
            ),
            "by its manifest digest",
        ),
        (
            lambda d: next(s for s in d[RELEASE]["jobs"]["sign"]["steps"] if s["name"].startswith("Attest")).update(
                run="true"
            ),
            "the amd64 image is not attested with its own SBOM",
        ),
    ],
)
def test_the_sbom_check_rejects_its_controls(data, change, problem):
    broken = copy.deepcopy(data)
    change(broken)
    problems = sbom_problems(broken)
    assert any(problem in line for line in problems), problems


def test_the_docs_check_reads_the_choice():
    """Control: the choice is read from the section's own words, so a section choosing bom would fail."""
    text = (REPO_ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    last = text.rsplit("\n## ", 1)[1]
    other = last.replace(
        "**Choice: syft, through `anchore/sbom-action`", "**Choice: bom, through `kubernetes-sigs/bom`"
    )
    (choice,) = re.findall(r"\*\*Choice: [^*]*?`([\w./-]+)`[^*]*\*\*", other)
    assert choice == "kubernetes-sigs/bom" != CHOSEN
