"""An image RC's `rc-built` goes out after its staging record, and says the result (issue 22, item 7).

It used to go out after the push, before staging: an RC that staging then rejected was announced as built,
then as failed. Now the notify job waits for the staging job, runs whatever staging decided (the staging job
fails when staging did) as long as a signed record exists, and hands the record's result to `_notify.yml`,
which puts it first in the notice. The notify step's own script runs under bash with a stand-in `python`
that keeps what `notify` was given. Each rule has controls: broken copies it must reject.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.stand_ins import run_as_step

BUILD = "_build-image.yml"
NOTIFY = "_notify.yml"
PYTHON = """#!/usr/bin/env python3
import json, os, shutil, sys
args = sys.argv[1:]
if args[:3] == ["-m", "pipelines", "changelog"]:
    print("## Features\\n- the notes")
    sys.exit(0)
details = args[args.index("--details") + 1] if "--details" in args else None
with open(os.environ["CAPTURE"], "w") as handle:
    json.dump({"args": args, "details": open(details).read() if details else None}, handle)
"""


def _stager(workflow):
    [job] = [
        j for j in workflow.jobs.values() if any("python -m pipelines staging record" in (s.run or "") for s in j.steps)
    ]
    return job


def _rc_built(workflow):
    return [
        j for j in workflow.jobs.values() if j.calls == NOTIFY and (j.data.get("with") or {}).get("event") == "rc-built"
    ]


def order_problems(workflows) -> list[str]:
    workflow = workflows[BUILD]
    stager = _stager(workflow)
    senders = _rc_built(workflow)
    if len(senders) != 1:
        return [f"{BUILD}: {len(senders)} jobs send rc-built, not one"]
    (sender,) = senders
    problems = []
    if stager.id not in workflow.needed_by(sender):
        problems.append(f"{sender.label}: sends rc-built before staging ({stager.id}) decided")
    condition = str(sender.data.get("if", ""))
    if "!cancelled()" not in condition and "always()" not in condition:
        problems.append(f"{sender.label}: skipped when staging failed, so rc-built never says failed")
    if f"needs.{stager.id}.outputs.result != ''" not in condition:
        problems.append(f"{sender.label}: sent also when no staging record was written")
    given = sender.data.get("with") or {}
    for key, output in (("staging-result", "result"), ("staging-record", "record")):
        if given.get(key) != f"${{{{ needs.{stager.id}.outputs.{output} }}}}":
            problems.append(f"{sender.label}: does not say the staging {output} ({key})")
    declared = workflows[NOTIFY].data["on"]["workflow_call"]["inputs"]
    if not {"staging-result", "staging-record"} <= set(declared):
        problems.append(f"{NOTIFY}: declares no staging-result and staging-record")
    outputs = stager.data.get("outputs") or {}
    match = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.result \}\}", str(outputs.get("result", "")))
    if match is None:
        return [*problems, f"{stager.label}: has no output result from one of its steps"]
    [step] = [s for s in stager.steps if s.data.get("id") == match.group(1)]
    script = step.run or ""
    verified = script.find("cosign verify")
    written = script.find('echo "result=')
    if verified == -1 or written == -1 or written < verified:
        problems.append(f"{stager.label}: its result is set before the record's signature is verified")
    return problems


def test_rc_built_waits_for_the_signed_staging_record_and_says_its_result(workflows):
    assert order_problems(workflows) == []


def broken(workflows, name: str, change: Callable[[dict[str, Any]], None]):
    data = copy.deepcopy(workflows[name].data)
    change(data)
    return {**workflows, name: dataclasses.replace(workflows[name], data=data)}


def _sign(w: dict[str, Any]) -> dict[str, Any]:
    [step] = [s for s in w["jobs"]["staging"]["steps"] if s.get("id") == "sign"]
    return step


def result_before_verify(w: dict[str, Any]) -> None:
    step = _sign(w)
    step["run"] = 'echo "result=$RESULT" >> "$GITHUB_OUTPUT"\n' + step["run"].replace(
        'echo "result=$RESULT" >> "$GITHUB_OUTPUT"\n', ""
    )


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        # As before issue 22: sent once the images were pushed.
        (BUILD, lambda w: w["jobs"]["notify-built"].update(needs=["plan", "metadata"]), "before staging"),
        (BUILD, lambda w: w["jobs"]["notify-built"].pop("if"), "never says failed"),
        (BUILD, lambda w: w["jobs"]["notify-built"].update({"if": "${{ !cancelled() }}"}), "no staging record"),
        (BUILD, lambda w: w["jobs"]["notify-built"]["with"].pop("staging-result"), "(staging-result)"),
        (BUILD, result_before_verify, "before the record's signature is verified"),
        (BUILD, lambda w: w["jobs"]["staging"].pop("outputs"), "has no output result"),
        (NOTIFY, lambda w: w["on"]["workflow_call"]["inputs"].pop("staging-result"), "declares no staging-result"),
    ],
)
def test_the_order_check_rejects_its_controls(workflows, name, change, problem):
    problems = order_problems(broken(workflows, name, change))
    assert any(problem in line for line in problems), problems


# ---- what the notice says ---------------------------------------------------------------------------

RECORD = "ghcr.io/percolation-labs/percolate@sha256:" + "d" * 64


def send(script: str, folder: Path, **inputs: str) -> dict[str, Any]:
    """The notify step's script under bash; what the stand-in `python -m pipelines notify` was given."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    python = bin_dir / "python"
    python.write_text(PYTHON)
    python.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CAPTURE": str(folder / "capture.json"),
        "EVENT": "rc-built",
        "PROJECT": "percolate",
        "VERSION": "percolate-v0.2.0-rc1",
        "NOTES": "true",
        "DIGESTS": "amd64=sha256:" + "a" * 64,
        "NEEDS": "{}",
        "STAGING_RESULT": "",
        "STAGING_RECORD": "",
        "TAG": "percolate-v0.2.0-rc1",
        **inputs,
    }
    result = run_as_step(script, env, cwd=folder, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads((folder / "capture.json").read_text())


def notice_problems(script: str, folder: Path) -> list[str]:
    problems = []
    for result, opening in (("passed", "**Staging passed**"), ("failed", "**Staging failed**")):
        sent = send(script, folder, STAGING_RESULT=result, STAGING_RECORD=RECORD)
        details = sent["details"] or ""
        if not details.startswith(opening) or RECORD not in details:
            problems.append(f"{result}: the notice does not open with {opening} and the record: {details[:80]!r}")
        if "- the notes" not in details:
            problems.append(f"{result}: the release notes are gone")
    if "refused" not in (send(script, folder, STAGING_RESULT="failed", STAGING_RECORD=RECORD)["details"] or ""):
        problems.append("failed: the notice does not say the release is refused")
    released = send(script, folder, EVENT="released", VERSION="percolate-v0.2.0")
    if (released["details"] or "").strip() != "## Features\n- the notes":
        problems.append(f"released: the notice holds more than the notes: {released['details']!r}")
    if "--details" in send(script, folder, NOTES="false")["args"]:
        problems.append("nothing to say: --details given all the same")
    return problems


def notify_script(workflows) -> str:
    [step] = [s for s in workflows[NOTIFY].steps() if "python -m pipelines notify" in (s.run or "")]
    return step.run or ""


def test_the_notice_opens_with_the_staging_result(workflows, tmp_path):
    assert notice_problems(notify_script(workflows), tmp_path) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        # The step as it was: only the notes.
        (lambda s: re.sub(r"(?s)\ncase .*?esac\n", "\n", s), "passed: the notice does not open with"),
        (lambda s: s.replace("refused", "kept"), "does not say the release is refused"),
        (lambda s: s.replace("cat notes.md >> details.md", "true"), "the release notes are gone"),
    ],
)
def test_the_notice_check_rejects_its_controls(workflows, tmp_path, change, problem):
    script = change(notify_script(workflows))
    problems = notice_problems(script, tmp_path)
    assert any(problem in line for line in problems), problems
