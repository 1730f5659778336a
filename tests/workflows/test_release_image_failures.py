"""An image release that stops says why and what to do, in the job log (issue 26, troubleshooting).

`_release-image.yml` stops in three places a reader must act on:

- job `staging-record`, step `show`: `staging show --json` exits 1. The annotation is the command's own
  error, cause and hint (no RC build of the version, an incomplete one, a registry that failed), or the
  state of the build (never staged, no record, a failed record) with its fix, never one fixed sentence;
- every `cosign verify` and `cosign verify-attestation` (the staging record's signature in
  `staging-record`, the release's signatures and SBOM attestations in `sign`) sits in
  `if ! cosign …; then echo "::error title=…::<what to do>"; exit 1; fi`;
- job `deploy-pr` checks PERCOLATE_GIT_PAT before deploy-pr runs and names the fix when it is empty.

The scripts run under bash as the runner runs them (`bash -eo pipefail`): `staging show` is the real CLI
(against a loopback registry stand-in) or a stand-in printing what the real one prints in the states a
stand-in registry cannot reach cheaply; `cosign` is a stand-in that fails as cosign does. Each rule has
controls: the workflow text changed in memory back to a bare `cosign verify` or the former fixed
annotation, which the rule must reject.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kit.loopback import reply, serving
from tests.workflows.conftest import REPO_ROOT
from tests.workflows.stand_ins import run_as_step

RELEASE = "_release-image.yml"
TAG = "percolate-v0.2.0"
REPOSITORY = "percolation-labs/percolate"
SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "d" * 64
BUILD = "2025.10.25.1430-build.57-v0.2.0-0123456"
VERIFY = re.compile(r"\bcosign (?:verify|verify-attestation)\b")
GUARDED = re.compile(
    r"if ! (cosign (?:verify|verify-attestation)\b[^;]*?); then\n"
    r"\s*echo \"::error title=[^:]+::([^\"]+)\"\n\s*exit 1\n"
)
FORMER = 'echo "::error title=staging not passed::the build has no passed staging record; push a new rc tag or re-run its staging job"'  # noqa: E501


def changed(workflows, old: str, new: str, name: str = RELEASE):
    """The workflows with `old` replaced by `new` once in workflow `name`'s text, parsed again."""
    text = workflows[name].text
    assert text.count(old) == 1, f"{old!r} is not once in {name}"
    text = text.replace(old, new)
    return {**workflows, name: dataclasses.replace(workflows[name], text=text, data=YAML(typ="safe").load(text))}


def step(workflows, job: str, start: str):
    (found,) = [s for s in workflows[RELEASE].jobs[job].steps if (s.data.get("name") or "").startswith(start)]
    return found


def run(script: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`script` as the runner runs a bash step, with `folder/bin` first on the PATH."""
    environment = {
        "PATH": f"{folder / 'bin'}:{os.environ['PATH']}",
        "GITHUB_STEP_SUMMARY": str(folder / "summary"),
        "GITHUB_OUTPUT": str(folder / "output"),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SHA": SHA,
        "GITHUB_REF": f"refs/tags/{TAG}",
        "GITHUB_ACTOR": "release-bot",
        **env,
    }
    return run_as_step(script, environment, cwd=folder)


def stand_in(folder: Path, name: str, source: str) -> None:
    (folder / "bin").mkdir(exist_ok=True)
    path = folder / "bin" / name
    path.write_text(f"#!{sys.executable}\n{source}")
    path.chmod(0o755)


def annotations(output: str) -> list[tuple[str, str]]:
    """(title, message) of every ::error workflow command printed."""
    return re.findall(r"^::error title=([^:]*)::(.*)$", output, re.M)


# ---- staging-record: the annotation is the failure's own cause and fix ---------------------------

REAL_CLI = f"""import os, sys
# `python -m pipelines staging show …` is the real CLI, pointed at the loopback registry stand-in.
args = sys.argv[1:]
if args[:4] == ["-m", "pipelines", "staging", "show"]:
    args += ["--registry", os.environ["STAND_IN_REGISTRY"], "--max-time", "5"]
os.environ["PYTHONPATH"] = {str(REPO_ROOT)!r}
os.execv({sys.executable!r}, [{sys.executable!r}, *args])
"""

CANNED_CLI = """import json, os, sys
# What `staging show --json` prints, in a state given by the test; its exit code as the real one gives it.
data = json.loads(os.environ["SHOWN"])
print(json.dumps(data))
sys.exit(0 if data.get("passed") else 1)
"""


def registry_without_builds() -> type[BaseHTTPRequestHandler]:
    """A registry whose repository holds tags, none of them an RC build of 0.2.0."""

    class Registry(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/v2/percolation-labs/percolate/tags/list"):
                body = {"name": "percolation-labs/percolate", "tags": ["0.1.0", "buildcache-amd64"]}
                reply(self, 200, json.dumps(body).encode(), {"Content-Type": "application/json"})
            else:
                reply(self, 200, b"{}", {"Content-Type": "application/json"})

    return Registry


def show(workflows, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    script = step(workflows, "staging-record", "The newest staging record").run
    return run(script, tmp_path, {"TAG": TAG, **env})


def test_no_rc_build_in_the_registry_is_annotated_with_the_real_error_and_hint(workflows, tmp_path):
    stand_in(tmp_path, "python", REAL_CLI)
    with serving(registry_without_builds()) as url:
        result = show(workflows, tmp_path, STAND_IN_REGISTRY=f"{url.removeprefix('http://')}/percolation-labs")
    assert result.returncode == 1
    ((title, message),) = annotations(result.stdout)
    assert title == "staging record not read (not-found)"
    assert message == (
        "no RC build of 0.2.0 in the registry; the repository has no CalVer build tags. Fix: push an RC tag of "
        "0.2.0 (`python -m pipelines tag next-rc` names it) and let its build finish"
    )


def test_a_registry_that_cannot_be_reached_is_annotated_as_unavailable(workflows, tmp_path):
    stand_in(tmp_path, "python", REAL_CLI)
    result = show(workflows, tmp_path, STAND_IN_REGISTRY="127.0.0.1:9/percolation-labs")
    assert result.returncode == 1
    ((title, message),) = annotations(result.stdout)
    assert title == "staging record not read (unavailable)", message
    assert "connection refused" in message and "Fix: the registry is failing" in message


def shown(subject: str | None, newest: dict[str, object] | None) -> str:
    passed = newest is not None and newest["result"] == "passed"
    data = {"project": "percolate", "version": "0.2.0", "build": BUILD, "subject": subject, "passed": passed,
            "newest": newest, "records": [newest] if newest else []}  # fmt: skip
    return json.dumps(data)


def record(result: str) -> dict[str, object]:
    run_url = f"https://github.com/{REPOSITORY}/actions/runs/7"
    return {"result": result, "run_url": run_url, "digest": DIGEST, "reference": f"ghcr.io/{REPOSITORY}@{DIGEST}"}


@pytest.mark.parametrize(
    ("subject", "newest", "title", "fix"),
    [
        (None, None, "staging never ran this build", "re-run the failed jobs of its RC build"),
        (DIGEST, None, "no staging record", "re-run the staging job of its RC build"),
        (DIGEST, record("failed"), "staging failed", "when the staging environment was at fault"),
    ],
)
def test_each_state_of_a_build_not_passed_says_its_own_fix(workflows, tmp_path, subject, newest, title, fix):
    stand_in(tmp_path, "python", CANNED_CLI)
    result = show(workflows, tmp_path, SHOWN=shown(subject, newest))
    assert result.returncode == 1
    ((got, message),) = annotations(result.stdout)
    assert got == title and fix in message and BUILD in message


def test_a_passed_record_is_an_output_and_no_annotation(workflows, tmp_path):
    stand_in(tmp_path, "python", CANNED_CLI)
    result = show(workflows, tmp_path, SHOWN=shown(DIGEST, record("passed")))
    assert result.returncode == 0, result.stderr
    assert annotations(result.stdout) == []
    assert f"record={DIGEST}" in (tmp_path / "output").read_text()


def test_control_the_former_fixed_annotation_hides_the_cause(workflows, tmp_path):
    """The former step said "no passed staging record" whatever happened: the registry's refusal is lost."""
    script = (
        'status=0\npython -m pipelines staging show "$TAG" --json > staging.json || status=$?\n'
        f'if [ "$status" -ne 0 ]; then\n  {FORMER}\n  exit "$status"\nfi\n'
    )
    stand_in(tmp_path, "python", REAL_CLI)
    result = run(script, tmp_path, {"TAG": TAG, "STAND_IN_REGISTRY": "127.0.0.1:9/percolation-labs"})
    ((title, message),) = annotations(result.stdout)
    assert "unavailable" not in title + message and "Fix: " not in message


# ---- every cosign verification is guarded by an annotation that says what to do ------------------


def unguarded(workflows, name: str = RELEASE) -> list[str]:
    """Each `cosign verify…` of workflow `name` that is not `if ! cosign …; then echo ::error…; exit 1; fi`."""
    problems = []
    for job in workflows[name].jobs.values():
        for item in job.steps:
            script = item.run or ""
            calls = len(VERIFY.findall(script))
            guarded = GUARDED.findall(script)
            assigned = dict(re.findall(r'^\s*(\w+)="([^"]*)"$', script, re.M))  # fix="…", quoted in a message
            if calls != len(guarded):
                problems.append(f"{item.label}: {calls - len(guarded)} cosign verification(s) without an annotation")
            for _call, message in guarded:
                said = re.sub(r"\$(\w+)", lambda name, given=assigned: given.get(name[1], name[0]), message)
                if "re-run" not in said:
                    problems.append(f"{item.label}: an annotation that does not say what to do: {said[:80]}")
    return problems


def test_every_cosign_verification_is_annotated_with_what_to_do(workflows):
    assert unguarded(workflows) == []
    scripts = "".join(s.run or "" for s in workflows[RELEASE].steps())
    assert len(VERIFY.findall(scripts)) == 4  # the record; the index; each platform's signature and attestation


def test_the_rc_builds_own_verification_of_its_record_is_annotated_too(workflows):
    assert unguarded(workflows, "_build-image.yml") == []
    assert len(VERIFY.findall("".join(s.run or "" for s in workflows["_build-image.yml"].steps()))) == 1
    bare = changed(
        workflows,
        "          if ! cosign verify --certificate-identity-regexp",
        "          cosign verify --certificate-identity-regexp",
        "_build-image.yml",
    )
    assert unguarded(bare, "_build-image.yml")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            'if ! cosign verify "${verify[@]}" "$REPOSITORY@$INDEX_DIGEST" > /dev/null; then',
            'cosign verify "${verify[@]}" "$REPOSITORY@$INDEX_DIGEST" > /dev/null\n          if false; then',
        ),
        (
            "        if ! cosign verify-attestation --type spdxjson",
            "        cosign verify-attestation --type spdxjson",
        ),
        (
            'if ! cosign verify --certificate-identity-regexp "$identity"',
            'cosign verify --certificate-identity-regexp "$identity"',
        ),
    ],
)
def test_control_a_bare_verification_is_rejected(workflows, old, new):
    assert unguarded(changed(workflows, old, new))


COSIGN = """import sys
# cosign: logs in; every verification fails as a signature by another identity does.
if sys.argv[1] in ("verify", "verify-attestation"):
    print("Error: no matching signatures: none of the expected identities matched", file=sys.stderr)
    sys.exit(1)
"""


def test_a_record_that_does_not_verify_stops_with_what_to_do(workflows, tmp_path):
    stand_in(tmp_path, "cosign", COSIGN)
    script = step(workflows, "staging-record", "Verify the record's signature").run
    env = {"TAG": TAG, "RECORD": f"ghcr.io/{REPOSITORY}@{DIGEST}", "GITHUB_TOKEN": "ghs_x",
           "CERTIFICATE_OIDC_ISSUER": "https://token.actions.githubusercontent.com"}  # fmt: skip
    result = run(script, tmp_path, env)
    assert result.returncode == 1
    assert "no matching signatures" in result.stderr  # cosign's own reason stays in the log
    ((title, message),) = annotations(result.stdout)
    assert title == "staging record signature not verified"
    assert "re-run this job" in message and "push the next rc tag" in message
    assert not (tmp_path / "summary").exists()


def test_a_release_signature_that_does_not_verify_stops_at_the_first_with_what_to_do(workflows, tmp_path):
    stand_in(tmp_path, "cosign", COSIGN)
    script = step(workflows, "sign", "Verify the signatures").run
    digests = {"INDEX_DIGEST": "sha256:" + "a" * 64, "DIGEST_AMD64": "sha256:" + "b" * 64,
               "DIGEST_ARM64": "sha256:" + "c" * 64}  # fmt: skip
    env = {"REPOSITORY": f"ghcr.io/{REPOSITORY}", "CERTIFICATE_OIDC_ISSUER": "https://x", **digests}
    result = run(script, tmp_path, env)
    assert result.returncode == 1
    ((title, message),) = annotations(result.stdout)
    assert title == "signature not verified" and digests["INDEX_DIGEST"] in message
    assert "re-run the failed jobs" in message and "$/.github/workflows/_release-image.yml" in message


# ---- deploy-pr: an empty PERCOLATE_GIT_PAT is named with its fix ----------------------------------


@pytest.mark.parametrize("value", ["", "  \n"])
def test_an_empty_pat_stops_the_deploy_pr_job_with_the_fix(workflows, tmp_path, value):
    job = workflows[RELEASE].jobs["deploy-pr"]
    names = [s.data.get("name") or "" for s in job.steps]
    check = next(i for i, name in enumerate(names) if name.startswith("Check the deploy pull request's token"))
    assert check < next(i for i, s in enumerate(job.steps) if "pipelines deploy-pr" in (s.run or ""))
    assert job.steps[check].env["PERCOLATE_GIT_PAT"] == "${{ secrets.PERCOLATE_GIT_PAT }}"
    result = run(job.steps[check].run or "", tmp_path, {"PERCOLATE_GIT_PAT": value})
    assert result.returncode == 1
    ((title, message),) = annotations(result.stdout)
    assert title == "PERCOLATE_GIT_PAT is empty"
    assert "pulumi config set --secret percolate-platform:percolateGitPat" in message and "pulumi up" in message
    assert run(job.steps[check].run or "", tmp_path, {"PERCOLATE_GIT_PAT": "github_pat_x"}).returncode == 0


def test_the_callers_pass_the_pat_by_name(workflows):
    for name in ("release-percolate.yml", "release-reading.yml"):
        (caller,) = [job for job in workflows[name].jobs.values() if job.calls == RELEASE]
        assert caller.data["secrets"]["PERCOLATE_GIT_PAT"] == "${{ secrets.PERCOLATE_GIT_PAT }}", name
