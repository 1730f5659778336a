"""percolate-rocks' staging record is signed where it is written, and the release verifies that signature.

`build-rocks.yml` job `staging-record` writes the record, signs it keylessly with sigstore-python
(`staging-record.json.sigstore.json`), verifies it as the release will, and uploads both to the RC's
pre-release; it is the one job besides the TestPyPI publisher that may ask for an OIDC token.
`release-rocks.yml` runs `wheels find-rc --require-staging` with contents: read only, trusting the
public-good Sigstore instance (no `--sigstore-trusted-root`).

Each rule returns its problems and runs on our files and on copies whose text was changed (the
controls), which it must reject. The signing step's own script also runs, with the real sigstore
CLI verifying against the tests' Sigstore instance; only `sigstore sign` is a stand-in (Fulcio and
GitHub's OIDC cannot run here), handing over the bundle that instance issues for the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from pipelines.staging.wheel_record import RECORD_ASSET
from pipelines.staging.wheel_signature import SIGNATURE_ASSET, SIGNING_JOB
from tests.support.sigstore_kit import GitHubClaims, LocalSigstore
from tests.workflows.conftest import Workflow
from tests.workflows.stand_ins import run_as_step

BUILD, RELEASE = "build-rocks.yml", "release-rocks.yml"
TRUSTED_PUBLISHER_JOB = "publish-testpypi"  # trusted publishing to TestPyPI needs the OIDC token too
WRITE = re.compile(r"python -m pipelines wheels staging-record\b[\s\S]*--out staging-record\.json")
SIGN = re.compile(
    rf"python -m sigstore sign\b.*--bundle {re.escape(SIGNATURE_ASSET)} {re.escape(RECORD_ASSET)}\s*$", re.M
)
UPLOAD = re.compile(rf'gh release upload "\$TAG" {re.escape(RECORD_ASSET)} {re.escape(SIGNATURE_ASSET)} --clobber\b')
FIND_RC = re.compile(r"python -m pipelines wheels find-rc\b")


def _index(job, pattern: re.Pattern[str]) -> int | None:
    return next((i for i, step in enumerate(job.steps) if pattern.search(step.run or "")), None)


def _id_token(permissions) -> bool:
    return isinstance(permissions, dict) and permissions.get("id-token") == "write"


def signing_problems(workflows) -> list[str]:
    """The record is signed after it is written and before it is uploaded with its bundle, in the only job
    (besides the trusted publisher) that holds id-token: write."""
    build = workflows[BUILD]
    job = build.jobs.get(SIGNING_JOB)
    if job is None:
        return [f"{BUILD}: no job {SIGNING_JOB}"]
    problems = []
    write, sign, upload = _index(job, WRITE), _index(job, SIGN), _index(job, UPLOAD)
    if sign is None:
        problems.append(f"{job.label}: does not sign {RECORD_ASSET} into {SIGNATURE_ASSET}")
    if upload is None:
        problems.append(f"{job.label}: does not upload {RECORD_ASSET} and {SIGNATURE_ASSET} together")
    if None not in (write, sign, upload) and not write < sign < upload:  # type: ignore[operator]
        problems.append(f"{job.label}: not in the order write, sign, upload")
    if job.permissions != {"contents": "write", "id-token": "write"}:
        problems.append(f"{job.label}: permissions {job.permissions}, not contents: write and id-token: write")
    if _id_token(build.data.get("permissions")):
        problems.append(f"{BUILD}: id-token: write for the whole workflow")
    # A job that calls a reusable workflow (the dashboard's pages.yml) only lends the token to the called
    # workflow's jobs, whose tokens name that file (job_workflow_ref): Fulcio certifies them as pages.yml.
    holders = {name for name, other in build.jobs.items() if _id_token(other.permissions) and not other.calls}
    for extra in sorted(holders - {SIGNING_JOB, TRUSTED_PUBLISHER_JOB}):
        problems.append(f"{build.jobs[extra].label}: holds id-token: write, and could sign as this workflow")
    return problems


def release_problems(workflows) -> list[str]:
    """find-rc requires a staging record signed for the public-good instance, from a job that can only read."""
    release = workflows[RELEASE]
    finders = [(job, step) for job in release.jobs.values() for step in job.steps if FIND_RC.search(step.run or "")]
    if len(finders) != 1:
        return [f"{RELEASE}: one step runs wheels find-rc"]
    ((job, step),) = finders
    problems = []
    if "--require-staging" not in (step.run or ""):
        problems.append(f"{job.label}: find-rc without --require-staging")
    if "--sigstore-trusted-root" in (step.run or ""):
        problems.append(f"{job.label}: find-rc trusts another Sigstore instance than the public-good one")
    if job.permissions != {"contents": "read"}:
        problems.append(f"{job.label}: permissions {job.permissions}, more than contents: read")
    if step.env.get("GITHUB_TOKEN") != "${{ github.token }}":
        problems.append(f"{job.label}: find-rc cannot read the RC's release without GITHUB_TOKEN")
    return problems


def changed(workflows, name: str, old: str, new: str):
    """`workflows` with `old` replaced by `new` in the text of `name` (once), parsed again as GitHub would."""
    text = workflows[name].text
    assert text.count(old) == 1, f"{old!r} is not once in {name}"
    text = text.replace(old, new)
    data = YAML(typ="safe", pure=True).load(text)
    return {**workflows, name: dataclasses.replace(workflows[name], text=text, data=data)}


def test_the_record_is_signed_and_uploaded_with_its_bundle(workflows):
    assert signing_problems(workflows) == []


def test_the_release_requires_the_signed_record_with_read_only_rights(workflows):
    assert release_problems(workflows) == []


SIGNING_STEP = (
    "python -m sigstore sign --rekor-version 1 --bundle staging-record.json.sigstore.json staging-record.json"
)
UPLOADED = 'gh release upload "$TAG" staging-record.json staging-record.json.sigstore.json --clobber'
SIGNING_PERMISSIONS = "      contents: write # attach the record and its signature to the RC's pre-release\n"


@pytest.mark.parametrize(
    ("name", "old", "new", "problem"),
    [
        (BUILD, SIGNING_STEP, "true", "does not sign"),
        (BUILD, UPLOADED, 'gh release upload "$TAG" staging-record.json --clobber', "together"),
        (BUILD, "      id-token: write # sign the record keylessly (Sigstore)\n", "", "id-token: write"),
        (BUILD, "\npermissions: {}\n", "\npermissions:\n  id-token: write\n", "for the whole workflow"),
        (BUILD, "      contents: write # create the GitHub pre-release",
         "      id-token: write\n      contents: write # create the GitHub pre-release", "metadata: holds id-token"),
        (RELEASE, " --to rc \\\n            --require-staging", " --to rc", "without --require-staging"),
        (RELEASE, "--require-staging\n", "--require-staging --sigstore-trusted-root root.json\n", "another Sigstore"),
        (RELEASE, "      contents: read # check out the tagged commit and the RC tags",
         "      contents: read # check out the tagged commit and the RC tags\n      id-token: write", "more than"),
    ],
)  # fmt: skip
def test_the_signature_checks_reject_their_controls(workflows, name, old, new, problem):
    broken = changed(workflows, name, old, new)
    problems = signing_problems(broken) + release_problems(broken)
    assert any(problem in line for line in problems), problems


# ---- the signing step's own script, with the real sigstore CLI verifying ------------------------

RC2 = "percolate-rocks-v0.2.0-rc2"
REPOSITORY = "percolation-labs/percolate"
THIS_RUN = GitHubClaims(REPOSITORY, BUILD, f"refs/tags/{RC2}")
STAND_IN = """#!{python}
# `python` on the runner: `-m sigstore sign` is the stand-in (it hands over the bundle the tests'
# Sigstore instance issued for this run); `-m sigstore verify` is the real CLI, trusting that instance.
import json, os, shutil, sys
args = sys.argv[1:]
if args[:3] == ["-m", "sigstore", "sign"]:
    with open(os.environ["SIGN_CALLS"], "a") as handle:
        handle.write(json.dumps(args[3:]) + "\\n")
    shutil.copyfile(os.environ["ISSUED_BUNDLE"], args[args.index("--bundle") + 1])
    sys.exit(0)
if args[:3] == ["-m", "sigstore", "verify"]:
    args = ["-m", "sigstore", "--trust-config", os.environ["TRUST_CONFIG"], *args[2:]]
os.execv("{python}", ["{python}", *args])
"""


def run_signing_step(workflow: Workflow, folder: Path, signer: GitHubClaims) -> subprocess.CompletedProcess[str]:
    """The signing step's script in a workspace holding the record, as run `signer` of the tests' Sigstore."""
    job = workflow.jobs[SIGNING_JOB]
    index = _index(job, SIGN)
    assert index is not None
    sigstore = LocalSigstore()
    (folder / "bin").mkdir()
    python = folder / "bin" / "python"
    python.write_text(STAND_IN.replace("{python}", sys.executable))
    python.chmod(0o755)
    record = b'{"kind": "wheel-staging-record", "result": "passed"}\n'
    (folder / RECORD_ASSET).write_bytes(record)
    (folder / "issued.json").write_bytes(sigstore.sign(record, signer))
    (folder / "trust.json").write_bytes(sigstore.client_trust_config())
    environment = {
        "PATH": f"{folder / 'bin'}:{os.environ['PATH']}",
        "HOME": str(folder),
        "SIGN_CALLS": str(folder / "calls"),
        "ISSUED_BUNDLE": str(folder / "issued.json"),
        "TRUST_CONFIG": str(folder / "trust.json"),
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_REF": f"refs/tags/{RC2}",
    }
    return run_as_step(job.steps[index].run or "", environment, cwd=folder)


OTHER_RUNS = {
    "a pull request": dataclasses.replace(THIS_RUN, trigger="pull_request"),
    "another workflow": dataclasses.replace(THIS_RUN, workflow="ci.yml"),
    "a branch": dataclasses.replace(THIS_RUN, ref="refs/heads/main"),
}


def test_the_signing_step_signs_the_record_and_verifies_it_as_the_release_will(workflows, tmp_path):
    result = run_signing_step(workflows[BUILD], tmp_path, THIS_RUN)
    assert result.returncode == 0, result.stderr
    (call,) = [json.loads(line) for line in (tmp_path / "calls").read_text().splitlines()]
    assert call[-1] == RECORD_ASSET and call[call.index("--bundle") + 1] == SIGNATURE_ASSET
    assert call[call.index("--rekor-version") + 1] == "1"  # the log entries the verifier's tests cover


@pytest.mark.parametrize("run", list(OTHER_RUNS))
def test_the_signing_step_fails_on_a_signature_the_release_would_refuse(workflows, tmp_path, run):
    result = run_signing_step(workflows[BUILD], tmp_path, OTHER_RUNS[run])
    assert result.returncode != 0, result.stdout


def test_without_the_trigger_check_the_step_would_pass_a_pull_requests_signature(workflows, tmp_path):
    """The control of the in-job verification: drop `--trigger push` and a pull request's signature passes."""
    broken = changed(workflows, BUILD, " --trigger push staging-record.json", " staging-record.json")
    result = run_signing_step(broken[BUILD], tmp_path, OTHER_RUNS["a pull request"])
    assert result.returncode == 0, result.stderr
