"""percolate-rocks' RC build and release, read as GitHub runs them (issue 22, items 4, 6, 7 and 8).

- Item 4: build-rocks.yml and release-rocks.yml rebuild the dashboard (pages.yml, `workflow_call`) as their
  last job, with exactly the permissions pages.yml's jobs ask for: an RC's staging record and a release's
  files are made with GITHUB_TOKEN, which starts no workflow.
- Item 6: staging takes percolate-rocks alone from TestPyPI (`pip download --no-deps`, exact version) and
  the dependencies it declares from PyPI only. The steps' own scripts run with a real pip against two real
  indexes on loopback (pypiserver), TestPyPI's holding a look-alike dependency of a higher version.
- Item 7: rc-built goes out after the signed staging record is on the pre-release, and says its result.
- Item 8: the plan job refuses an RC that TestPyPI already holds files of, before anything is built; the
  publish job uploads only the files the index lacks, after checking those it has are the run's own bytes.
  Both steps' scripts run against pypiserver. A failed signature says what to do (troubleshooting).

Each rule returns its problems and runs on our files and on copies whose text or data was changed (the
controls), which it must reject.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from kit.loopback import free_port, wait_until_serving
from tests.workflows.conftest import REPO_ROOT, Workflow
from tests.workflows.stand_ins import run_as_step
from tests.workflows.test_rocks_record_signature import OTHER_RUNS, THIS_RUN, changed, run_signing_step

BUILD, RELEASE, PAGES, NOTIFY = "build-rocks.yml", "release-rocks.yml", "pages.yml", "_notify.yml"
TESTPYPI, PYPI = "https://test.pypi.org/simple/", "https://pypi.org/simple/"
RC1 = "0.2.0rc1"
CHECK = "python -m pipelines wheels check-unpublished percolate-rocks"


def broken(workflows, name: str, change: Callable[[dict[str, Any]], None]):
    """`workflows` with the parsed data of `name` changed in memory."""
    data = copy.deepcopy(workflows[name].data)
    change(data)
    return {**workflows, name: dataclasses.replace(workflows[name], data=data)}


def _step_index(job, pattern: str) -> int | None:
    """The index of the first step of `job` whose script (continuation lines joined) matches `pattern`."""
    return next(
        (i for i, step in enumerate(job.steps) if re.search(pattern, (step.run or "").replace("\\\n", " "))), None
    )


# ---- item 4: the dashboard, last ---------------------------------------------------------------------

STRENGTH = {"read": 1, "write": 2}


def pages_permissions(pages: Workflow) -> dict[str, str]:
    """What a caller must grant: the union of pages.yml's jobs' permissions (write over read)."""
    wanted: dict[str, str] = {}
    for job in pages.jobs.values():
        for scope, level in (job.permissions or {}).items():
            if STRENGTH[level] > STRENGTH.get(wanted.get(scope, ""), 0):
                wanted[scope] = level
    return wanted


def pages_problems(workflows) -> list[str]:
    pages = workflows[PAGES]
    problems = [] if "workflow_call" in pages.triggers else [f"{PAGES}: cannot be called (no workflow_call)"]
    wanted = pages_permissions(pages)
    for name in (BUILD, RELEASE):
        workflow = workflows[name]
        callers = [job for job in workflow.jobs.values() if job.calls == PAGES]
        if len(callers) != 1:
            problems.append(f"{name}: {len(callers)} jobs call {PAGES}, not one")
            continue
        (job,) = callers
        # notify-failed waits for every job, this one too: it reports a failure of any.
        before = set(workflow.jobs) - {job.id, "notify-failed"} - workflow.needed_by(job)
        if before:
            problems.append(f"{job.label}: not the last job, {sorted(before)} can run after it")
        if job.data.get("if") != "${{ !cancelled() }}":
            problems.append(f"{job.label}: runs on {job.data.get('if')!r}; a failed RC or release must show too")
        if job.permissions != wanted:
            problems.append(f"{job.label}: permissions {job.permissions}, not what {PAGES}'s jobs need: {wanted}")
        if (job.data.get("with") or {}).get("best-effort") is not True:
            problems.append(f"{job.label}: a failed rebuild of the page would fail the run")
    return problems


def test_both_rocks_workflows_rebuild_the_dashboard_last(workflows):
    assert pages_problems(workflows) == []


PAGES_JOB_CONTROLS = {
    "no dashboard job": (BUILD, lambda w: w["jobs"].pop("pages"), "0 jobs call"),
    "before rc-built": (BUILD, lambda w: w["jobs"]["pages"].update(needs=["staging-record"]), "not the last job"),
    "right after the plan": (RELEASE, lambda w: w["jobs"]["pages"].update(needs=["plan"]), "not the last job"),
    "only on success": (RELEASE, lambda w: w["jobs"]["pages"].update({"if": "${{ success() }}"}), "must show too"),
    "cannot publish": (BUILD, lambda w: w["jobs"]["pages"]["permissions"].pop("pages"), "not what"),
    "may write": (RELEASE, lambda w: w["jobs"]["pages"]["permissions"].update(contents="write"), "not what"),
    "fails the run": (BUILD, lambda w: w["jobs"]["pages"].pop("with"), "would fail the run"),
    "not callable": (PAGES, lambda w: w["on"].pop("workflow_call"), "cannot be called"),
}


@pytest.mark.parametrize("control", list(PAGES_JOB_CONTROLS))
def test_the_dashboard_check_rejects_its_controls(workflows, control):
    name, change, problem = PAGES_JOB_CONTROLS[control]
    problems = pages_problems(broken(workflows, name, change))
    assert any(problem in line for line in problems), problems


# ---- item 7: rc-built after the signed staging record ------------------------------------------------


def rc_built_problems(workflows) -> list[str]:
    workflow = workflows[BUILD]
    senders = [
        j for j in workflow.jobs.values() if j.calls == NOTIFY and (j.data.get("with") or {}).get("event") == "rc-built"
    ]
    if len(senders) != 1:
        return [f"{BUILD}: {len(senders)} jobs send rc-built, not one"]
    (sender,) = senders
    record = workflow.jobs["staging-record"]
    problems = []
    if record.id not in workflow.needed_by(sender):
        problems.append(f"{sender.label}: sends rc-built before the staging record exists")
    condition = str(sender.data.get("if", ""))
    if "!cancelled()" not in condition:
        problems.append(f"{sender.label}: skipped when staging failed, so rc-built never says failed")
    if "needs.staging-record.outputs.result != ''" not in condition:
        problems.append(f"{sender.label}: sent also when no record was attached")
    if (sender.data.get("with") or {}).get("staging-result") != "${{ needs.staging-record.outputs.result }}":
        problems.append(f"{sender.label}: does not say staging's result")
    match = re.fullmatch(
        r"\$\{\{ steps\.([\w-]+)\.outputs\.result \}\}", str((record.data.get("outputs") or {}).get("result"))
    )
    if match is None:
        return [*problems, f"{record.label}: has no output result from one of its steps"]
    [index] = [i for i, step in enumerate(record.steps) if step.data.get("id") == match.group(1)]
    script = record.steps[index].run or ""
    uploaded, said = script.find("gh release upload"), script.find('echo "result=')
    signed = _step_index(record, r"python -m sigstore verify")
    if uploaded == -1 or said < uploaded or signed is None or signed > index:
        problems.append(f"{record.label}: its result is set before the signed record is on the pre-release")
    return problems


def test_rc_built_waits_for_the_signed_record_and_says_its_result(workflows):
    assert rc_built_problems(workflows) == []


def _record_step(w: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in w["jobs"]["staging-record"]["steps"] if s.get("id") == "attach")


RC_BUILT_CONTROLS = {
    # As before issue 22: sent once the pre-release existed, before staging.
    "before staging": (lambda w: w["jobs"]["notify-built"].update(needs=["metadata"]), "before the staging record"),
    "only on success": (lambda w: w["jobs"]["notify-built"].pop("if"), "never says failed"),
    "without a record": (lambda w: w["jobs"]["notify-built"].update({"if": "${{ !cancelled() }}"}), "no record"),
    "silent": (lambda w: w["jobs"]["notify-built"]["with"].pop("staging-result"), "does not say"),
    "no output": (lambda w: w["jobs"]["staging-record"].pop("outputs"), "has no output result"),
    "said first": (
        lambda w: _record_step(w).update(run='echo "result=$RESULT" >> "$GITHUB_OUTPUT"\n' + _record_step(w)["run"]),
        "before the signed record is on the pre-release",
    ),
}


@pytest.mark.parametrize("control", list(RC_BUILT_CONTROLS))
def test_the_rc_built_check_rejects_its_controls(workflows, control):
    change, problem = RC_BUILT_CONTROLS[control]
    problems = rc_built_problems(broken(workflows, BUILD, change))
    assert any(problem in line for line in problems), problems


# ---- wheels and indexes on loopback -------------------------------------------------------------------


def make_wheel(folder: Path, name: str, version: str, *, tag: str = "py3-none-any", requires: tuple[str, ...] = (),
               origin: str = "") -> Path:  # fmt: skip
    """A pure-Python wheel of one module `name` (with `ORIGIN = origin`), built by hand as the spec lays it out."""
    module, distribution = name.replace("-", "_"), name.replace("-", "_")
    dist_info = f"{distribution}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"ORIGIN = {origin!r}\n".encode(),
        f"{dist_info}/METADATA": "".join(
            [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", *(f"Requires-Dist: {r}\n" for r in requires)]
        ).encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record = (
        "".join(f"{path},sha256={hashlib.sha256(data).digest().hex()},{len(data)}\n" for path, data in files.items())
        + f"{dist_info}/RECORD,,\n"
    )
    files[f"{dist_info}/RECORD"] = record.encode()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{distribution}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def make_sdist(folder: Path, name: str, version: str, stamp: int = 0) -> Path:
    stem = f"{name.replace('-', '_')}-{version}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(f"{stem}/PKG-INFO")
        data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        info.size, info.mtime = len(data), stamp
        archive.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path


PLATFORMS = ("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-macosx_11_0_arm64", "cp311-cp311-win_amd64")


def rc_build(folder: Path, build: str) -> list[Path]:
    """The files of one build of rc1: a wheel per platform and the sdist; another `build` gives other bytes."""
    wheels = [make_wheel(folder, "percolate-rocks", RC1, tag=tag, origin=build) for tag in PLATFORMS]
    return [*wheels, make_sdist(folder, "percolate-rocks", RC1, stamp=len(build))]


@contextlib.contextmanager
def package_index(folder: Path) -> Iterator[str]:
    """pypiserver serving `folder` on a loopback port (sha256 in its links), as tests/wheels/conftest.py starts it."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pypiserver", "run", "--host", "127.0.0.1", "--port", str(port),
         "--authenticate", ".", "--passwords", ".", "--disable-fallback", "--hash-algo", "sha256", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/simple/", process)
        yield f"http://127.0.0.1:{port}/simple/"
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_step(script: str, workdir: Path, python: Path, env: Mapping[str, str], urls: Mapping[str, str]):
    """A step's script as the runner runs it (bash -eo pipefail), `python` first on PATH, the indexes' URLs
    replaced by loopback ones, and no retry pauses."""
    for real, local in urls.items():
        script = script.replace(real, local)
    script = script.replace("sleep 30", "sleep 0")
    bin_dir = workdir / ".bin"
    bin_dir.mkdir(exist_ok=True)
    # A wrapper, not a link: a virtual environment is found from the path its python is started by.
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{python}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    output = workdir / ".github_output"
    output.touch()
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(workdir),
        "PYTHONPATH": str(REPO_ROOT),
        "GITHUB_OUTPUT": str(output),
        **env,
    }
    return run_as_step(script, environment, cwd=workdir, timeout=300)


# ---- item 6: only percolate-rocks from TestPyPI -------------------------------------------------------

PIP = re.compile(r"python -m pip (install|download)\b[^\n]*")
# The install step as it was before issue 22: both indexes for everything.
OLD_INSTALL = """      - name: Install percolate-rocks==X.Y.ZrcN from TestPyPI by version, no cache
        env:
          PACKAGE_VERSION: ${{ needs.plan.outputs.package-version }}
        run: |
          python -m pip install --no-cache-dir --only-binary :all: \\
            --index-url https://test.pypi.org/simple/ --extra-index-url https://pypi.org/simple/ \\
            "percolate-rocks==$PACKAGE_VERSION"
"""


def pip_commands(workflows) -> Iterator[tuple[str, str]]:
    for workflow in workflows.values():
        for step in workflow.steps():
            for match in PIP.finditer((step.run or "").replace("\\\n", " ")):
                yield step.label, match.group(0)


def index_problems(workflows) -> list[str]:
    """No pip command mixes indexes; one that reads TestPyPI takes one file: percolate-rocks at a version."""
    problems = []
    for where, command in pip_commands(workflows):
        if "--extra-index-url" in command:
            problems.append(f"{where}: --extra-index-url lets every dependency come from either index")
        if "test.pypi.org" in command:
            for needed in ("download", "--no-deps", "--only-binary :all:", '"percolate-rocks==$PACKAGE_VERSION"'):
                if needed not in command:
                    problems.append(f"{where}: takes more than percolate-rocks' own file from TestPyPI ({needed})")
    return problems


def installing_steps(workflow: Workflow) -> list[str]:
    """The scripts of staging-tests that install percolate-rocks (not pytest, which comes from PyPI alone)."""
    return [
        step.run
        for step in workflow.jobs["staging-tests"].steps
        if step.run and "pip" in step.run and "pytest" not in step.run
    ]


def staging_install_text(workflow: Workflow) -> str:
    """Our download and install steps, as they are written in the file."""
    start = workflow.text.index("      - name: Download percolate-rocks==X.Y.ZrcN from TestPyPI")
    return workflow.text[start : workflow.text.index("      - name: Install pytest", start)]


def test_only_percolate_rocks_is_taken_from_testpypi(workflows):
    assert index_problems(workflows) == []


def test_the_index_check_rejects_the_install_as_it_was(workflows):
    broken_ones = changed(workflows, BUILD, staging_install_text(workflows[BUILD]), OLD_INSTALL)
    problems = index_problems(broken_ones)
    assert any("--extra-index-url" in line for line in problems), problems
    assert any("(--no-deps)" in line for line in problems), problems


@pytest.fixture(scope="module")
def two_indexes(tmp_path_factory) -> Iterator[dict[str, str]]:
    """TestPyPI: the RC and a look-alike `rocks-dep` 99.0 anyone could register; PyPI: the real `rocks-dep` 1.0."""
    root = tmp_path_factory.mktemp("indexes")
    make_wheel(root / "testpypi", "percolate-rocks", RC1, requires=("rocks-dep>=1.0",), origin="testpypi")
    make_wheel(root / "testpypi", "rocks-dep", "99.0", origin="testpypi: a stranger's")
    make_wheel(root / "pypi", "rocks-dep", "1.0", origin="pypi")
    with package_index(root / "testpypi") as testpypi, package_index(root / "pypi") as pypi:
        yield {TESTPYPI: testpypi, PYPI: pypi}


def installed_from(workflow: Workflow, indexes: Mapping[str, str], folder: Path) -> dict[str, str]:
    """Run the install steps in a fresh virtual environment; what got installed, and from where."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    for script in installing_steps(workflow):
        result = run_step(script, folder, python, {"PACKAGE_VERSION": RC1}, indexes)
        assert result.returncode == 0, result.stdout + result.stderr
    shown = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, percolate_rocks, rocks_dep;"
         "print(m.version('percolate-rocks'), m.version('rocks-dep'), rocks_dep.ORIGIN, sep='|')"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rocks, dependency, origin = shown.stdout.strip().split("|")
    return {"percolate-rocks": rocks, "rocks-dep": dependency, "origin": origin}


def dependency_problems(got: Mapping[str, str]) -> list[str]:
    problems = []
    if got["percolate-rocks"] != RC1:
        problems.append(f"installed percolate-rocks {got['percolate-rocks']}, not the RC {RC1}")
    if got["origin"] != "pypi":
        problems.append(f"rocks-dep {got['rocks-dep']} came from {got['origin']}, not PyPI")
    return problems


def test_the_staging_install_takes_the_dependencies_from_pypi_only(workflows, two_indexes, tmp_path):
    assert dependency_problems(installed_from(workflows[BUILD], two_indexes, tmp_path)) == []


def test_control_the_install_as_it_was_takes_a_strangers_dependency_from_testpypi(workflows, two_indexes, tmp_path):
    before = changed(workflows, BUILD, staging_install_text(workflows[BUILD]), OLD_INSTALL)
    problems = dependency_problems(installed_from(before[BUILD], two_indexes, tmp_path))
    assert problems == ["rocks-dep 99.0 came from testpypi: a stranger's, not PyPI"]


# ---- item 8: "Version already exists", refused before anything is built --------------------------------


def unpublished_problems(workflows) -> list[str]:
    build = workflows[BUILD]
    plan, publish = build.jobs["plan"], build.jobs["publish-testpypi"]
    problems = []
    check = _step_index(plan, re.escape(CHECK) + r' "\$PACKAGE_VERSION"')
    planned = next((i for i, s in enumerate(plan.steps) if s.data.get("id") == "plan"), None)
    if check is None or planned is None or check < planned:
        problems.append(f"{plan.label}: does not check TestPyPI for the RC's files once the plan is made")
    else:
        step = plan.steps[check]
        if f"--index {TESTPYPI}" not in (step.run or "") or "--files" in (step.run or ""):
            problems.append(f"{step.label}: does not refuse every file of the RC on TestPyPI")
        if step.env.get("PACKAGE_VERSION") != "${{ steps.plan.outputs.package-version }}":
            problems.append(f"{step.label}: checks another version than the plan's")
    for job_id in ("cargo-test", "wheels", "sdist"):
        if "plan" not in build.needed_by(build.jobs[job_id]):
            problems.append(f"{build.jobs[job_id].label}: builds before the check")
    compare = _step_index(publish, re.escape(CHECK) + r".*--files dist\b")
    fetched = next((i for i, s in enumerate(publish.steps) if s.action == "actions/download-artifact"), None)
    uploads = [i for i, s in enumerate(publish.steps) if s.action == "pypa/gh-action-pypi-publish"]
    if compare is None or fetched is None or fetched > compare or any(i < compare for i in uploads):
        problems.append(f"{publish.label}: uploads without comparing the run's files with TestPyPI's first")
    elif [publish.steps[i].data.get("if") for i in uploads] != [
        f"steps.{publish.steps[compare].data.get('id')}.outputs.upload == 'true'"
    ]:
        problems.append(f"{publish.label}: uploads even when TestPyPI has every file already")
    return problems


def test_the_rc_is_checked_against_testpypi_before_the_build_and_before_the_upload(workflows):
    assert unpublished_problems(workflows) == []


PLAN_CHECK_STEP = """          python -m pipelines wheels check-unpublished percolate-rocks "$PACKAGE_VERSION" \\
            --index https://test.pypi.org/simple/
"""
UNPUBLISHED_CONTROLS = {
    # As before issue 22: nothing checked; the upload failed after every wheel was built.
    "no check": (PLAN_CHECK_STEP, "          true\n", "does not check TestPyPI"),
    "name only": (
        PLAN_CHECK_STEP,
        PLAN_CHECK_STEP.replace("/simple/\n", "/simple/ --files dist\n"),
        "does not refuse every file",
    ),
    "plain upload": (
        "        if: steps.unpublished.outputs.upload == 'true'\n        uses: pypa/",
        "        uses: pypa/",
        "uploads even when",
    ),
}


@pytest.mark.parametrize("control", list(UNPUBLISHED_CONTROLS))
def test_the_unpublished_check_rejects_its_controls(workflows, control):
    old, new, problem = UNPUBLISHED_CONTROLS[control]
    problems = unpublished_problems(changed(workflows, BUILD, old, new))
    assert any(problem in line for line in problems), problems


def test_the_unpublished_check_rejects_a_build_that_does_not_wait_for_it(workflows):
    problems = unpublished_problems(broken(workflows, BUILD, lambda w: w["jobs"]["wheels"].pop("needs")))
    assert any("wheels: builds before the check" in line for line in problems), problems


def _script(workflow: Workflow, job: str, pattern: str) -> str:
    index = _step_index(workflow.jobs[job], pattern)
    assert index is not None
    return workflow.jobs[job].steps[index].run or ""


def test_the_plan_step_refuses_an_rc_already_on_the_index_and_names_the_next_rc(workflows, tmp_path):
    script = _script(workflows[BUILD], "plan", re.escape(CHECK))
    served = tmp_path / "served"
    with package_index(served) as url:
        empty = run_step(script, tmp_path, Path(sys.executable), {"PACKAGE_VERSION": RC1}, {TESTPYPI: url})
        assert empty.returncode == 0, empty.stderr
        uploaded = rc_build(tmp_path / "first", "first")[0]
        shutil.copyfile(uploaded, served / uploaded.name)
        refused = run_step(script, tmp_path, Path(sys.executable), {"PACKAGE_VERSION": RC1}, {TESTPYPI: url})
    assert refused.returncode == 1
    assert "error: Version already exists:" in refused.stderr
    assert "hint: push the next release candidate, percolate-rocks-v0.2.0-rc2" in refused.stderr


def compare_and_skip(workflows, served: Path, dist: list[Path], workdir: Path):
    """The publish job's compare step, with `dist/` holding `dist` and the index serving `served`."""
    (workdir / "dist").mkdir(parents=True)
    for path in dist:
        shutil.copyfile(path, workdir / "dist" / path.name)
    script = _script(workflows[BUILD], "publish-testpypi", re.escape(CHECK))
    with package_index(served) as url:
        return run_step(script, workdir, Path(sys.executable), {"PACKAGE_VERSION": RC1}, {TESTPYPI: url})


def test_a_resumed_upload_sends_only_the_files_the_index_lacks(workflows, tmp_path):
    first = rc_build(tmp_path / "first", "first")
    served = tmp_path / "served"
    served.mkdir()
    for path in first[:2]:  # the upload that stopped half-way
        shutil.copyfile(path, served / path.name)
    result = compare_and_skip(workflows, served, first, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "run" / "dist").iterdir()) == sorted(p.name for p in first[2:])
    assert (tmp_path / "run" / ".github_output").read_text() == "upload=true\n"


def test_an_upload_that_finished_uploads_nothing_again(workflows, tmp_path):
    first = rc_build(tmp_path / "first", "first")
    served = tmp_path / "served"
    served.mkdir()
    for path in first:
        shutil.copyfile(path, served / path.name)
    result = compare_and_skip(workflows, served, first, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "run" / "dist").iterdir()) == []
    assert (tmp_path / "run" / ".github_output").read_text() == "upload=false\n"


def test_rebuilt_files_are_never_uploaded_next_to_the_first_builds(workflows, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    for path in rc_build(tmp_path / "first", "first")[:2]:
        shutil.copyfile(path, served / path.name)
    again = rc_build(tmp_path / "again", "built again")
    result = compare_and_skip(workflows, served, again, tmp_path / "run")
    assert result.returncode == 1
    assert "Version already exists" in result.stderr and "percolate-rocks-v0.2.0-rc2" in result.stderr
    assert len(list((tmp_path / "run" / "dist").iterdir())) == len(again)
    assert (tmp_path / "run" / ".github_output").read_text() == ""


# ---- troubleshooting: a signature that does not verify says what to do ----------------------------------


def test_a_staging_record_signature_that_does_not_verify_says_what_to_do(workflows, tmp_path):
    result = run_signing_step(workflows[BUILD], tmp_path, OTHER_RUNS["a branch"])
    assert result.returncode == 1
    assert "::error title=staging record signature not verified::" in result.stdout
    assert "re-run this job" in result.stdout and "push the next rc tag" in result.stdout


def test_control_the_verification_as_it_was_fails_without_saying_what_to_do(workflows, tmp_path):
    text = workflows[BUILD].text
    start = text.index("          if ! python -m sigstore verify github")
    end = text.index("          fi\n", start) + len("          fi\n")
    plain = text[start:end].replace("if ! python", "python").replace("; then\n", "\n")
    plain = plain[: plain.index("            echo")]
    before = changed(workflows, BUILD, text[start:end], plain)
    result = run_signing_step(before[BUILD], tmp_path, OTHER_RUNS["a branch"])
    assert result.returncode != 0
    assert "::error" not in result.stdout
    (tmp_path / "ok").mkdir()
    assert run_signing_step(before[BUILD], tmp_path / "ok", THIS_RUN).returncode == 0


def sign_failure_problems(workflows) -> list[str]:
    job = workflows[RELEASE].jobs["sign"]
    signer = next((i for i, s in enumerate(job.steps) if s.action == "sigstore/gh-action-sigstore-python"), None)
    if signer is None:
        return [f"{job.label}: signs nothing"]
    sign_id = job.steps[signer].data.get("id")
    helpers = [
        s for s in job.steps[signer + 1 :] if s.data.get("if") == f"failure() && steps.{sign_id}.outcome == 'failure'"
    ]
    if (
        not helpers
        or "::error title=" not in (helpers[0].run or "")
        or "re-run the failed jobs" not in (helpers[0].run or "")
    ):
        return [f"{job.label}: a failed signature or verification does not say what to do"]
    return []


def test_a_failed_release_signature_says_what_to_do(workflows, tmp_path):
    assert sign_failure_problems(workflows) == []
    [helper] = [s for s in workflows[RELEASE].jobs["sign"].steps if "failure()" in str(s.data.get("if"))]
    result = run_step(helper.run or "", tmp_path, Path(sys.executable), {"IDENTITY": "https://github.com/o/r/x"}, {})
    assert result.returncode == 0
    assert result.stdout.startswith("::error title=Sigstore signing or verification failed::")


def test_the_sign_failure_check_rejects_its_control(workflows):
    def drop(w: dict[str, Any]) -> None:
        w["jobs"]["sign"]["steps"] = [s for s in w["jobs"]["sign"]["steps"] if "failure()" not in str(s.get("if"))]

    assert sign_failure_problems(broken(workflows, RELEASE, drop)) != []
