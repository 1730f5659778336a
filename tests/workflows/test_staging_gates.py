"""The staging path in the workflows: RC build → build index → staging → record; release only after a verified record.

Each rule is a function returning its problems; each runs on our workflows and on a broken
copy (the control) that it must reject. The verification step's own script runs with a
stand-in cosign, so the certificate identity it demands is the one tested, not a copy of it.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from typing import Any

import pytest

from pipelines.core.catalog import STAGING_ENVIRONMENT, TESTPYPI, wheel_projects
from tests.workflows.stand_ins import cosign_calls, option

BUILD = "_build-image.yml"
RELEASE = "_release-image.yml"
STAGING_ORDER = (
    r"pulumi/actions",
    r"python -m pipelines wait-healthy",
    r"python -m pytest \"\$PROJECT/tests/integration\"",
    r"python -m pipelines staging record",
    r"cosign sign --yes \"\$RECORD\"",
)


def _position(job, pattern: str) -> int | None:
    for index, step in enumerate(job.steps):
        if re.search(pattern, step.run or "") or (step.action and re.fullmatch(pattern, step.action)):
            return index
    return None


def _jobs_running(workflow, pattern: str):
    return [job for job in workflow.jobs.values() if _position(job, pattern) is not None]


def staging_problems(workflows) -> list[str]:
    """The RC build deploys to staging after its build index, in environment staging, in one queue, in order."""
    workflow = workflows[BUILD]
    problems = []
    (indexer,) = _jobs_running(workflow, r"python -m pipelines build-index") or [None]
    stagers = _jobs_running(workflow, r"pulumi/actions")
    if indexer is None or len(stagers) != 1:
        return [f"{BUILD}: one job writes the build index and one runs pulumi up --stack staging"]
    (stager,) = stagers
    if "push" not in workflow.needed_by(indexer):
        problems.append(f"{indexer.label}: writes the build index before every platform is pushed")
    if indexer.id not in workflow.needed_by(stager):
        problems.append(f"{stager.label}: deploys to staging before the build index exists")
    environment = stager.data.get("environment") or {}
    if (environment.get("name") if isinstance(environment, dict) else environment) != STAGING_ENVIRONMENT:
        problems.append(f"{stager.label}: not in environment {STAGING_ENVIRONMENT} (RC tags only may deploy)")
    concurrency = stager.data.get("concurrency") or {}
    if "${{" in str(concurrency.get("group", "${{")) or concurrency.get("cancel-in-progress") is not False:
        problems.append(f"{stager.label}: one fixed concurrency group for the staging stack, never cancelled")
    if concurrency.get("queue") != "max":
        problems.append(f"{stager.label}: without `queue: max` a third RC cancels the pending one")
    step = next(s for s in stager.steps if s.action == "pulumi/actions")
    if step.inputs.get("stack-name") != "staging" or step.inputs.get("command") != "up":
        problems.append(f"{stager.label}: runs {step.inputs.get('command')} on stack {step.inputs.get('stack-name')}")
    positions = [_position(stager, pattern) for pattern in STAGING_ORDER]
    if None in positions or positions != sorted(positions):  # type: ignore[type-var]
        problems.append(f"{stager.label}: not in the order pulumi up, health gate, tests, record, signature")
    if (stager.permissions or {}).get("id-token") != "write":
        problems.append(f"{stager.label}: signs the record keylessly without id-token: write")
    gate = stager.steps[positions[1]] if positions[1] is not None else None
    if gate is not None and "$INDEX_DIGEST" not in (gate.run or ""):
        problems.append(f"{stager.label}: the health gate does not wait for the build index digest")
    return problems


def release_problems(workflows) -> list[str]:
    """promote runs with --require-staging and the verified record, after cosign verified that record."""
    workflow = workflows[RELEASE]
    problems = []
    promoters = _jobs_running(workflow, r"python -m pipelines promote")
    verifiers = _jobs_running(
        workflow, r"cosign verify --certificate-identity-regexp \"\$identity\"[\s\S]*?\"\$RECORD\""
    )
    if len(promoters) != 1 or len(verifiers) != 1:
        return [f"{RELEASE}: one job promotes and one verifies the staging record's signature"]
    (promoter,), (verifier,) = promoters, verifiers
    command = promoter.steps[_position(promoter, r"python -m pipelines promote")].run or ""
    for flag in ("--require-staging", '--staging-record "$STAGING_RECORD"'):
        if flag not in command:
            problems.append(f"{promoter.label}: promote without {flag}")
    if verifier.id not in workflow.needed_by(promoter):
        problems.append(f"{promoter.label}: promotes without waiting for the record's signature check")
    record = promoter.steps[_position(promoter, r"python -m pipelines promote")].env.get("STAGING_RECORD", "")
    if record != f"${{{{ needs.{verifier.id}.outputs.record }}}}":
        problems.append(f"{promoter.label}: --staging-record is not the record {verifier.label} verified")
    shown = _position(verifier, r"python -m pipelines staging show")
    verified = _position(verifier, r"cosign verify")
    if shown is None or verified is None or shown > verified:
        problems.append(f"{verifier.label}: verifies before it knows which record is the newest")
    return problems


def test_rc_builds_go_through_staging(workflows):
    assert staging_problems(workflows) == []


def test_releases_require_a_verified_staging_record(workflows, tag_workflows):
    assert release_problems(workflows) == []
    callers = [name for name, (project, _stage) in tag_workflows.items() if project.ships_images]
    for name in callers:
        # Every image build and release is the shared one (the other job rebuilds the dashboard after it).
        (job,) = [job for job in workflows[name].jobs.values() if job.calls != "pages.yml"]
        assert job.calls in (BUILD, RELEASE), name


def broken(workflows, name: str, change: Callable[[dict[str, Any]], None]):
    data = copy.deepcopy(workflows[name].data)
    change(data)
    return {**workflows, name: dataclasses.replace(workflows[name], data=data)}


def _step(job: dict[str, Any], start: str) -> dict[str, Any]:
    return next(step for step in job["steps"] if (step.get("name") or "").startswith(start))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda w: w["jobs"]["staging"].pop("environment"), "not in environment staging"),
        (lambda w: w["jobs"]["staging"]["needs"].remove("build-index"), "before the build index exists"),
        (lambda w: w["jobs"]["build-index"].update(needs=["plan"]), "before every platform is pushed"),
        (lambda w: w["jobs"]["staging"]["concurrency"].update({"cancel-in-progress": True}), "never cancelled"),
        (lambda w: w["jobs"]["staging"]["concurrency"].update(group="staging-${{ inputs.project }}"), "one fixed"),
        (lambda w: w["jobs"]["staging"]["concurrency"].pop("queue"), "queue: max"),
        (lambda w: w["jobs"]["staging"]["permissions"].pop("id-token"), "id-token: write"),
        (lambda w: _step(w["jobs"]["staging"], "pulumi up")["with"].update({"stack-name": "prod"}), "on stack prod"),
        (
            lambda w: w["jobs"]["staging"]["steps"].insert(3, w["jobs"]["staging"]["steps"].pop(-5)),
            "not in the order",
        ),
        (
            lambda w: _step(w["jobs"]["staging"], "Health gate").update(
                run='python -m pipelines wait-healthy "$APPLICATION" --digest "$OTHER"'
            ),
            "build index digest",
        ),
    ],
)
def test_the_staging_check_rejects_its_controls(workflows, change, problem):
    problems = staging_problems(broken(workflows, BUILD, change))
    assert any(problem in line for line in problems), problems


def _promote(w: dict[str, Any]) -> dict[str, Any]:
    return _step(w["jobs"]["promote"], "Promote")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda w: _promote(w).update(run=_promote(w)["run"].replace("--require-staging ", "")), "--require-staging"),
        (lambda w: _promote(w).update(run=_promote(w)["run"].replace("--staging-record", "--x")), "--staging-record"),
        (lambda w: w["jobs"]["promote"].update(needs=["plan"]), "without waiting for the record's signature"),
        (lambda w: _promote(w)["env"].update(STAGING_RECORD="${{ github.sha }}"), "not the record"),
        (
            lambda w: w["jobs"]["staging-record"]["steps"].insert(3, w["jobs"]["staging-record"]["steps"].pop(-1)),
            "before it knows which record",
        ),
    ],
)
def test_the_release_check_rejects_its_controls(workflows, change, problem):
    problems = release_problems(broken(workflows, RELEASE, change))
    assert any(problem in line for line in problems), problems


# ---- the identity the release demands of the staging record's signature --------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"
REPOSITORY = "percolation-labs/percolate"
BUILD_WORKFLOW = f"https://github.com/{REPOSITORY}/.github/workflows/_build-image.yml"
RECORD = f"ghcr.io/{REPOSITORY}@sha256:" + "d" * 64


@pytest.fixture(scope="module")
def record_verification(workflows, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The `cosign verify` arguments of the release's record verification, run under bash."""
    tmp_path = tmp_path_factory.mktemp("cosign")
    step = next(s for s in workflows[RELEASE].jobs["staging-record"].steps if "cosign verify" in (s.run or ""))
    env = {
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SHA": SHA,
        "GITHUB_ACTOR": "release-bot",
        "GITHUB_TOKEN": "ghs_sample",
        "TAG": "percolate-v0.2.0",
        "RECORD": RECORD,
        "CERTIFICATE_OIDC_ISSUER": "https://token.actions.githubusercontent.com",
    }
    calls = cosign_calls(step.run, tmp_path, env)
    (verify,) = [call for call in calls if call[0] == "verify"]
    return verify


@pytest.mark.parametrize("ref", ["refs/tags/percolate-v0.2.0-rc1", "refs/tags/percolate-v0.2.0-rc12", SHA])
def test_the_record_must_be_signed_by_an_rc_build_of_this_version(record_verification, ref):
    identity = re.compile(option(record_verification, "--certificate-identity-regexp"))
    assert identity.fullmatch(f"{BUILD_WORKFLOW}@{ref}")
    assert record_verification[-1] == RECORD
    assert option(record_verification, "--certificate-github-workflow-sha") == SHA
    assert option(record_verification, "--certificate-github-workflow-repository") == REPOSITORY
    assert option(record_verification, "--certificate-oidc-issuer") == "https://token.actions.githubusercontent.com"


@pytest.mark.parametrize(
    "other",
    [
        f"{BUILD_WORKFLOW}@refs/tags/percolate-v0.2.1-rc1",  # another version
        f"{BUILD_WORKFLOW}@refs/tags/percolate-v0.2.0",  # the release tag itself, not an rc
        f"{BUILD_WORKFLOW}@refs/tags/percolate-v0.2.0-rc0",
        f"{BUILD_WORKFLOW}@refs/tags/percolate-v0x2x0-rc1",  # dots are dots
        f"{BUILD_WORKFLOW}@refs/heads/main",
        f"https://github.com/{REPOSITORY}/.github/workflows/_release-image.yml@refs/tags/percolate-v0.2.0-rc1",
        "https://github.com/someone/percolate/.github/workflows/_build-image.yml@refs/tags/percolate-v0.2.0-rc1",
        f"{BUILD_WORKFLOW}@{'f' * 40}",
    ],
)
def test_no_other_signer_is_admitted(record_verification, other):
    identity = re.compile(option(record_verification, "--certificate-identity-regexp"))
    assert not identity.fullmatch(other)


# ---- percolate-rocks: staging is TestPyPI --------------------------------------------------------


def rocks_problems(workflows) -> list[str]:
    """Clean runners of every wheel platform install the published RC from TestPyPI by version; the
    record follows them; the release takes only an RC whose staging passed."""
    build, release = workflows["build-rocks.yml"], workflows["release-rocks.yml"]
    problems = []
    tests, record = build.jobs.get("staging-tests"), build.jobs.get("staging-record")
    if tests is None or record is None:
        return ["build-rocks.yml: jobs staging-tests and staging-record are missing"]
    if "publish-testpypi" not in build.needed_by(tests):
        problems.append(f"{tests.label}: installs before the upload to TestPyPI")
    if {"staging-tests", "metadata"} - set(record.needs):
        problems.append(f"{record.label}: records before the tests ran or before the pre-release exists")
    (project,) = wheel_projects()
    if sorted(tests.matrix_values("target")) != sorted(target.name for target in project.wheel_targets):
        problems.append(f"{tests.label}: does not run on every wheel platform of the catalog")
    if any(step.action == "actions/download-artifact" for step in tests.steps):
        problems.append(f"{tests.label}: takes the built files from the run, not the published ones")
    checkout = next((s for s in tests.steps if s.action == "actions/checkout"), None)
    if checkout is None or "percolate-rocks/python" in str(
        checkout.inputs.get("sparse-checkout", "percolate-rocks/python")
    ):
        problems.append(f"{tests.label}: checks out the package's source, which the tests could import")
    # Only percolate-rocks itself comes from TestPyPI (its dependencies from PyPI: tests/workflows/
    # test_rocks_release_path.py installs them against two real indexes).
    install = next((s.run for s in tests.steps if s.run and "percolate-rocks==" in s.run), "")
    for needed in (
        f"--index-url {TESTPYPI.simple_url}",
        "--no-deps",
        "--no-cache-dir",
        '"percolate-rocks==$PACKAGE_VERSION"',
    ):
        if needed not in install:
            problems.append(f"{tests.label}: the install lacks {needed}")
    find = next((s.run for s in release.steps() if s.run and "wheels find-rc" in s.run), "")
    if "--require-staging" not in find:
        problems.append("release-rocks.yml: find-rc without --require-staging")
    return problems


def test_rocks_staging_installs_the_published_rc_on_every_platform(workflows):
    assert rocks_problems(workflows) == []


def _rocks_step(w: dict[str, Any], job: str, start: str) -> dict[str, Any]:
    return _step(w["jobs"][job], start)


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        (
            "build-rocks.yml",
            lambda w: w["jobs"]["staging-tests"]["steps"].insert(
                1, {"uses": "actions/download-artifact@x", "with": {"name": "dist"}}
            ),
            "not the published ones",
        ),
        (
            "build-rocks.yml",
            lambda w: w["jobs"]["staging-tests"]["strategy"]["matrix"]["include"].pop(),
            "every wheel platform",
        ),
        (
            "build-rocks.yml",
            lambda w: _rocks_step(w, "staging-tests", "Download percolate-rocks").update(
                run=_rocks_step(w, "staging-tests", "Download percolate-rocks")["run"].replace("--no-cache-dir ", "")
            ),
            "lacks --no-cache-dir",
        ),
        (
            "build-rocks.yml",
            lambda w: _rocks_step(w, "staging-tests", "Check out")["with"].pop("sparse-checkout"),
            "checks out the package's source",
        ),
        ("build-rocks.yml", lambda w: w["jobs"]["staging-tests"].update(needs=["plan", "wheels"]), "before the upload"),
        (
            "build-rocks.yml",
            lambda w: w["jobs"]["staging-record"].update(needs=["plan", "metadata"]),
            "before the tests",
        ),
        (
            "release-rocks.yml",
            lambda w: _rocks_step(w, "promote-wheels", "Download the newest").update(
                run='python -m pipelines wheels find-rc percolate-rocks "$VERSION" --to rc'
            ),
            "without --require-staging",
        ),
    ],
)
def test_the_rocks_check_rejects_its_controls(workflows, name, change, problem):
    problems = rocks_problems(broken(workflows, name, change))
    assert any(problem in line for line in problems), problems
