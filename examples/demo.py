"""`make demo`: the whole release flow on embedded defaults, offline, leaving nothing running.

In a temp copy of examples/monorepo (with git history, tags and a copy of
Pulumi.prod.yaml) it prints the plans of percolate-rocks' RC build and release, and
releases 0.2.0 of both services:

  plan -> stand-in RC images for amd64 and arm64 (a generated manifest and a provenance-like
     attestation, not built, tested or scanned: that needs Docker and CI's runners) pushed to a
     local registry (Debian's docker-registry) at the plan's CalVer tags
  -> promote to release tags, digests written back into the stack file
  -> `python -m infra render` showing both Applications pinned to the new index digests
  -> the health gate against a local stand-in of the Kubernetes API, where percolate-api fails
  -> rollback to the previous release, which blocks 0.2.0 from being promoted again
  -> percolate-reading's canary (examples/demo_canary.py): its steps followed by the gate, then a
     failing analysis aborted, rolled back and blocked.
  -> staging (examples/demo_staging.py): an RC's build index pinned in staging, its integration
     tests, a release refused before the staging record and accepted after, with the same digest
  -> the release dashboard of the whole history (examples/demo_dashboard.py).

Each step runs the real CLI the way a workflow would, and prints what it did (`python -m pipelines` in this
process, as `python -m` runs it; `python -m infra render` in a process of its own): about 10 s.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(REPO_ROOT))  # the package and the kit of local services (kit/), importable

from examples import demo_canary, demo_dashboard, demo_staging  # noqa: E402
from examples.demo_kube import KubeApiStandIn  # noqa: E402
from kit.git import git as kit_git  # noqa: E402
from kit.loopback import reply  # noqa: E402
from kit.registry import ImagePusher, LocalRegistry  # noqa: E402
from pipelines.core.catalog import STACK_CONFIG_FILE, image_projects, wheel_projects  # noqa: E402

sys.path.insert(0, str(HERE))


EXAMPLE = HERE / "monorepo"
RUN_NUMBER = "123"
BUILD_TIME = "2025-11-20T09:30:00Z"
NAMESPACE = "percolation-labs"
NEW_VERSION = "0.2.0"
FAILING_APPLICATION = "percolate-api"


def say(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def git(root: Path, *args: str) -> str:
    """git in the demo's monorepo, as the demo's own author."""
    return kit_git(root, *args, name="Percolate Demo", email="demo@example.invalid")


def run(root: Path, *args: str, expect: int = 0, show: bool = True, progress: bool = False) -> str:
    """Run a command of this repository (`python -m …`) in the monorepo, echoing it; stop on a surprise."""
    print(f"$ python -m {' '.join(args)}", flush=True)
    code, stdout, stderr = _in_process(root, args) if args[0] == "pipelines" else _subprocess(root, args)
    if show:
        print(stdout, end="", flush=True)
    if code != 0 or expect != 0 or progress:
        print(stderr, end="", flush=True)
    if code != expect:
        raise SystemExit(f"demo step exited {code}, expected {expect}: python -m {' '.join(args)}")
    return stdout


def _environment() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GITHUB_RUN_NUMBER": RUN_NUMBER}
    env.pop("GITHUB_OUTPUT", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    return env


def _subprocess(root: Path, args: tuple[str, ...]) -> tuple[int, str, str]:
    """`python -m ARGS` in a process of its own (`infra render`: Pulumi's mocks are the process's): exit code,
    stdout, stderr."""
    result = subprocess.run(
        [sys.executable, "-m", *args], check=False, cwd=root, env=_environment(), capture_output=True, text=True
    )
    return result.returncode, result.stdout, result.stderr


def _in_process(root: Path, args: tuple[str, ...]) -> tuple[int, str, str]:
    """`python -m pipelines ARGS` run as `python -m` runs it (its `__main__`, that argv), in this process, with the
    environment and working folder a subprocess would have, without a new interpreter's start-up: exit code,
    stdout, stderr."""
    module, *arguments = args
    saved_environment, saved_folder, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(_environment())
        os.chdir(root)
        sys.argv = [module, *arguments]
        with redirect_stdout(out), redirect_stderr(err):
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
    finally:
        sys.argv = saved_argv
        os.chdir(saved_folder)
        os.environ.clear()
        os.environ.update(saved_environment)
    return code, out.getvalue(), err.getvalue()


def make_monorepo(workdir: Path) -> Path:
    root = workdir / "monorepo"
    shutil.copytree(EXAMPLE, root)
    shutil.copy(REPO_ROOT / STACK_CONFIG_FILE, root / STACK_CONFIG_FILE)
    for project in image_projects():
        # The repository's stack file has released nothing yet; the story starts with 0.1.0 in prod,
        # written the way every release writes it.
        digest = {
            name: "sha256:" + hashlib.sha256(f"{project.name} 0.1.0 {name}".encode()).hexdigest()
            for name in ("index", *project.platforms)
        }
        platforms = [option for arch in project.platforms for option in ("--platform", f"{arch}={digest[arch]}")]
        source = "2025.10.25.1430-build.99-v0.1.0-abc1234"
        run(
            root,
            "pipelines",
            "stack-config",
            "set-image",
            project.name,
            "--version",
            "0.1.0",
            "--digest",
            digest["index"],
            *platforms,
            "--source",
            source,
            "--stack-config",
            STACK_CONFIG_FILE,
            show=False,
        )
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Import the monorepo; prod runs 0.1.0 of both services")
    print(f"temp monorepo at {root}, commit {git(root, 'rev-parse', '--short', 'HEAD')}")
    return root


def build_rc(root: Path, project: str, registry: str, pusher: Any) -> None:
    """What build-*.yml does for an RC tag: plan, then one CalVer-tagged image per platform."""
    rc_tag = run(root, "pipelines", "tag", "next-rc", project).strip()
    git(root, "tag", "-a", rc_tag, "-m", rc_tag)
    print(f"pushed tag {rc_tag}: an RC tag starts a build")
    run(root, "pipelines", "plan", rc_tag, "--registry", registry, "--at", BUILD_TIME)
    plan = json.loads(
        run(root, "pipelines", "plan", rc_tag, "--registry", registry, "--at", BUILD_TIME, "--json", show=False)
    )
    for artifact in plan["artifacts"]:
        reference = artifact["name"]
        repository, tag = reference.removeprefix(registry.split("/")[0] + "/").rsplit(":", 1)
        # Like a buildx push with provenance: a per-arch index of the image and its attestation.
        pushed = pusher.manifest(repository, tag, pusher.buildx_index(repository, artifact["platform"], reference))
        # A stand-in for build-*.yml's image: generated, not built, tested or scanned (no Docker here).
        print(f"  pushed a generated stand-in (not built, tested or scanned) {reference} ({pushed.digest[:19]}…)")


def plan_wheels(root: Path, project: str) -> None:
    """The wheel project's RC build and release, as plans (its builds need the Rust toolchains of CI)."""
    rc_tag = run(root, "pipelines", "tag", "next-rc", project).strip()
    git(root, "tag", "-a", rc_tag, "-m", rc_tag)
    print(f"pushed tag {rc_tag}: an RC tag starts a build")
    run(root, "pipelines", "plan", rc_tag)
    release_tag = rc_tag.rsplit("-rc", 1)[0]
    git(root, "tag", "-a", release_tag, "-m", release_tag)
    print(f"pushed tag {release_tag}: a tag without -rc starts a release")
    run(root, "pipelines", "plan", release_tag)


def release(root: Path, project: str, registry: str) -> None:
    """What release-*.yml does for a release tag: promote and write the digests back."""
    tag = f"{project}-v{NEW_VERSION}"
    git(root, "tag", "-a", tag, "-m", tag)
    print(f"pushed tag {tag}: a tag without -rc starts a release")
    run(root, "pipelines", "plan", tag, "--registry", registry)
    run(root, "pipelines", "promote", tag, "--registry", registry, "--stack-config", STACK_CONFIG_FILE)


def show_applications(root: Path) -> str:
    """The desired state of the Argo CD Applications, rendered offline from the stack file; the rendering (JSON)."""
    output = run(
        REPO_ROOT, "infra", "render", "--stack-config", str(root / STACK_CONFIG_FILE), "--check", "--json", show=False
    )
    for resource in json.loads(output)["resources"]:
        if resource["type"].endswith(":Application") and "chart" not in resource["inputs"]["spec"]["source"]:
            images = resource["inputs"]["spec"]["source"]["kustomize"]["images"]
            print(f"  Application {resource['inputs']['metadata']['name']:<18} pins {', '.join(images)}")
    print("  policy checks: ok")
    return output


class ArgoCdStandIn(KubeApiStandIn):
    """A local stand-in of the Kubernetes API serving Argo CD Applications: one Degraded, the rest Healthy."""

    def __init__(self, images: dict[str, str]) -> None:
        self.images = images
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rstrip("/").rsplit("/", 1)[-1]
                body = json.dumps(server_self.application(name)).encode()
                reply(self, 200 if name in server_self.images else 404, body, {"Content-Type": "application/json"})

        super().__init__(Handler)

    def application(self, name: str) -> dict[str, Any]:
        if name not in self.images:
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
                "message": f'applications.argoproj.io "{name}" not found',
            }
        failing = name == FAILING_APPLICATION
        status: dict[str, Any] = {
            "sync": {"status": "Synced", "revision": "main"},
            "health": {"status": "Degraded" if failing else "Healthy"},
            "summary": {"images": [self.images[name]]},
            "operationState": {"phase": "Succeeded"},
        }
        if failing:
            status["health"]["message"] = "Deployment percolate-api: 0 of 2 replicas available"
            status["conditions"] = [
                {"type": "SyncError", "message": "container api: CrashLoopBackOff (exit 1: cannot read settings)"}
            ]
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "status": status,
        }


def health_gate(root: Path, workdir: Path) -> str:
    """What deploy.yml does after `pulumi up`: wait for each Application; returns the project that failed."""
    pins = json.loads(run(root, "pipelines", "stack-config", "show", "--json", show=False))
    images = {
        project.argocd_application: pin["repository"] + "@" + pin["digest"]
        for project in image_projects()
        for pin in pins
        if pin["project"] == project.name
    }
    failed = ""
    with ArgoCdStandIn(images).running() as api:
        kubeconfig = api.kubeconfig(workdir / "kubeconfig")
        for project in image_projects():
            application = str(project.argocd_application)
            digest = images[application].split("@", 1)[1]
            expect = 1 if application == FAILING_APPLICATION else 0
            run(
                root,
                "pipelines",
                "wait-healthy",
                application,
                "--digest",
                digest,
                "--kubeconfig",
                str(kubeconfig),
                "--timeout",
                "10",
                "--interval",
                "0.2",
                expect=expect,
            )
            failed = project.name if expect else failed
    return failed


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="percolate-demo-") as temp:
        workdir = Path(temp)
        say("1. a monorepo with git history; prod runs 0.1.0 of both services")
        root = make_monorepo(workdir)
        for project in image_projects():
            run(root, "pipelines", "versions", "bump", project.name, NEW_VERSION)
        git(root, "commit", "-qam", f"Release {NEW_VERSION} of both services")

        for project in wheel_projects():
            say(f"2. {project.name}: the plans of an RC build and of its release")
            plan_wheels(root, project.name)

        say("3. a local OCI registry (Debian's docker-registry) on loopback")
        local = LocalRegistry(workdir / "registry").start()
        try:
            registry = f"{local.host}/{NAMESPACE}"
            print(f"registry at {registry}")
            pusher = ImagePusher(local.host)

            say(f"4. RC builds: plan, then images for every platform with CalVer tags (run {RUN_NUMBER})")
            for project in image_projects():
                build_rc(root, project.name, registry, pusher)

            say("5. releases: plan, promote the tested RC images, write the digests back")
            for project in image_projects():
                release(root, project.name, registry)
            print(git(root, "diff", "--stat"))
            git(root, "commit", "-qam", f"deploy: percolate and percolate-reading {NEW_VERSION}")
            print("the deploy pull request is merged (here: committed)")

            say("6. pulumi up would now declare (rendered offline under Pulumi's mocks)")
            show_applications(root)

            say("7. the health gate after pulumi up (a local stand-in of the Kubernetes API)")
            failed = health_gate(root, workdir)

            say(f"8. rollback of {failed}: the previous release comes back, {NEW_VERSION} is blocked")
            run(root, "pipelines", "rollback", failed)
            rendered = show_applications(root)
            run(
                root,
                "pipelines",
                "promote",
                f"{failed}-v{NEW_VERSION}",
                "--registry",
                registry,
                "--stack-config",
                STACK_CONFIG_FILE,
                expect=1,
            )
            git(root, "commit", "-qam", f"rollback: {failed} {NEW_VERSION} -> 0.1.0")
            print("the rollback pull request is merged (here: committed)")
            # The refused promote wrote nothing: the canary scene reads its Rollout from the rendering just shown.
            demo_canary.canary(root, workdir, registry, NEW_VERSION, run, say, rendered)
            git(root, "commit", "-qam", f"rollback: percolate-reading {NEW_VERSION}, its canary failed")

            say("12. staging: an RC deploys to staging, passes its tests, and only then is released")
            record = demo_staging.scene(sys.modules[__name__], root, workdir, registry, pusher)
            git(root, "commit", "-qam", f"deploy: percolate {demo_staging.VERSION}, the build staging ran")
            print("the deploy pull request is merged (here: committed)")
        finally:
            local.stop()
            print(f"\nlocal registry on {local.host} stopped")

        say("13. the release dashboard of this history (what pages.yml publishes)")
        records = workdir / "records"
        records.mkdir()
        (records / "staging-record.json").write_text(json.dumps(record), encoding="utf-8")
        demo_dashboard.write_dashboard(root, run, records)
    say("done: the temp monorepo, the registry and the API stand-in are gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
