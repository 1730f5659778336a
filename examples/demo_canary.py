"""`make demo`, the canary part: percolate-reading rolls out by Argo Rollouts steps, watched by the health gate.

Called by examples/demo.py once percolate-reading 0.2.0 is released and pinned. A local stand-in of
the Kubernetes API serves the Application, its Rollout and the AnalysisRuns the way Argo CD and the
Argo Rollouts controller report them (shapes of kit/rollouts.py), and records what the
gate writes:
  1. the steps the program puts into the Rollout (the Application's kustomize patch, rendered offline);
  2. a canary passing through its steps: setWeight, timed pause (Argo CD shows Suspended), analysis;
  3. the same release whose analysis fails: the gate aborts the Rollout (PATCH rollouts/status),
     exits 1, the release is rolled back and 0.2.0 is blocked from being promoted again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from examples.demo_kube import KubeApiStandIn
from kit.loopback import reply
from kit.rollouts import NEW_HASH, make_analysis_run, make_rollout
from pipelines.core.catalog import STACK_CONFIG_FILE

PROJECT = "percolate-reading"
APPLICATION = "percolate-reading"
NAMESPACE = "percolate"
Run = Callable[..., str]


def _application(image: str, health: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": APPLICATION, "namespace": "argocd"},
        "spec": {"destination": {"server": "https://kubernetes.default.svc", "namespace": NAMESPACE}},
        "status": {
            "sync": {"status": "Synced", "revision": "main"},
            "health": {"status": health},
            "summary": {"images": [image]},
            "operationState": {"phase": "Succeeded"},
        },
    }


Poll = tuple[str, dict[str, Any], dict[str, Any] | None]  # (Argo CD health, Rollout, AnalysisRun)


def _polls(image: str, steps: list[dict[str, Any]], fail_analysis: bool) -> list[Poll]:
    """What the gate reads poll after poll while the controller walks `steps`; the first analysis fails if asked."""
    digest = image.split("@", 1)[1]
    polls: list[Poll] = []
    for index, step in enumerate(steps):
        if "pause" in step:
            polls.append(
                (
                    "Suspended",
                    make_rollout(digest, step=index, steps=steps, phase="Paused", pause="CanaryPauseStep"),
                    None,
                )
            )
        elif "analysis" in step:
            run = f"{PROJECT}-{NEW_HASH}-7-{index}"
            running = make_analysis_run(run, "Running", successful=1)
            polls.append(
                ("Progressing", make_rollout(digest, step=index, steps=steps, analysis=(run, "Running")), running)
            )
            phase = "Failed" if fail_analysis else "Successful"
            ended = make_analysis_run(
                run,
                phase,
                failed=2 if fail_analysis else 0,
                successful=1 if fail_analysis else 4,
                value="unavailable" if fail_analysis else None,
            )
            polls.append(("Progressing", make_rollout(digest, step=index, steps=steps, analysis=(run, phase)), ended))
            if fail_analysis:
                return polls
        else:
            polls.append(("Progressing", make_rollout(digest, step=index, steps=steps), None))
    polls.append(
        ("Healthy", make_rollout(digest, step=len(steps), steps=steps, phase="Healthy", stable=NEW_HASH), None)
    )
    return polls


class RolloutStandIn(KubeApiStandIn):
    """The Kubernetes API as the gate sees it during a canary; each Application read moves one poll on."""

    def __init__(self, image: str, script: list[Poll]) -> None:
        self.image, self.script, self.poll = image, script, -1
        self.aborts: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer(stand_in.get(self.path))

            def do_PATCH(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.answer(stand_in.patch(self.path, body, self.headers.get("Content-Type", "")))

            def answer(self, document: dict[str, Any] | None) -> None:
                found = document is not None
                data = json.dumps(document or {"kind": "Status", "status": "Failure", "code": 404}).encode()
                reply(self, 200 if found else 404, data, {"Content-Type": "application/json"})

        super().__init__(Handler)

    def _current(self) -> Poll:
        return self.script[min(max(self.poll, 0), len(self.script) - 1)]

    def get(self, path: str) -> dict[str, Any] | None:
        if path.endswith(f"/applications/{APPLICATION}"):
            self.poll += 1
            return _application(self.image, self._current()[0])
        if path.endswith(f"/rollouts/{PROJECT}"):
            return self._rollout()
        run = self._current()[2]
        if run is not None and path.endswith(f"/analysisruns/{run['metadata']['name']}"):
            return run
        return None

    def _rollout(self) -> dict[str, Any]:
        rollout = json.loads(json.dumps(self._current()[1]))
        if self.aborts:  # as the controller shows it once aborted: the canary scaled away, the stable serves
            rollout["status"].update(abort=True, phase="Degraded", message="RolloutAborted: aborted by the gate")
        return rollout

    def patch(self, path: str, body: dict[str, Any], content_type: str) -> dict[str, Any] | None:
        if not path.endswith(f"/rollouts/{PROJECT}/status"):
            return None
        self.aborts.append({"path": path, "content_type": content_type, "body": body})
        return self._rollout()


def _gate(root: Path, workdir: Path, run: Run, image: str, script: list[Poll], expect: int) -> RolloutStandIn:
    with RolloutStandIn(image, script).running() as api:
        kubeconfig = api.kubeconfig(workdir / "kubeconfig-canary")
        run(
            root,
            "pipelines",
            "wait-healthy",
            APPLICATION,
            "--digest",
            image.split("@", 1)[1],
            "--stack-config",
            STACK_CONFIG_FILE,
            "--kubeconfig",
            str(kubeconfig),
            "--timeout",
            "1500",
            "--interval",
            "0.05",
            expect=expect,
            progress=True,
        )
    return api


def canary(
    root: Path,
    workdir: Path,
    registry: str,
    version: str,
    run: Run,
    say: Callable[[str], None],
    rendered: str | None = None,
) -> None:
    """The canary story of percolate-reading `version`, released and pinned in the stack file under `root`.

    `rendered` is `infra render --json` of that stack file when the caller has just run it (the demo's rollback
    scene); without it the scene renders the stack file itself.
    """
    pins = json.loads(run(root, "pipelines", "stack-config", "show", "--json", show=False))
    pin = next(pin for pin in pins if pin["project"] == PROJECT)
    image = f"{pin['repository']}@{pin['digest']}"

    say(f"9. {PROJECT} rolls out by canary: the steps pulumi up puts into its Rollout (kustomize patch)")
    if rendered is None:
        rendered = run(
            Path(__file__).resolve().parent.parent,
            "infra",
            "render",
            "--stack-config",
            str(root / STACK_CONFIG_FILE),
            "--json",
            show=False,
        )
    else:
        print(f"  (from the rendering of {STACK_CONFIG_FILE} above: unchanged since)")
    steps: list[dict[str, Any]] = []
    for resource in json.loads(rendered)["resources"]:
        kustomize = resource["inputs"].get("spec", {}).get("source", {}).get("kustomize", {})
        for patch in kustomize.get("patches", []):
            steps = next(op["value"] for op in json.loads(patch["patch"]) if op["path"].endswith("/steps"))
            print(f"  Rollout {patch['target']['name']} steps: {', '.join(_step(step) for step in steps)}")
        if resource["type"].endswith(":AnalysisTemplate"):
            print(f"  AnalysisTemplate {resource['inputs']['metadata']['name']}: GET {_url(resource)}")

    say(f"10. the health gate follows a passing canary of {PROJECT} {version}, step by step")
    passed = _gate(root, workdir, run, image, _polls(image, steps, fail_analysis=False), expect=0)
    print(f"  aborts sent: {len(passed.aborts)}")

    say(f"11. the same release with a failing analysis: abort, rollback, {version} blocked")
    failed = _gate(root, workdir, run, image, _polls(image, steps, fail_analysis=True), expect=1)
    for abort in failed.aborts:
        print(f"  the gate sent PATCH {abort['path']} ({abort['content_type']}): {json.dumps(abort['body'])}")
    run(root, "pipelines", "rollback", PROJECT)
    run(
        root,
        "pipelines",
        "promote",
        f"{PROJECT}-v{version}",
        "--registry",
        registry,
        "--stack-config",
        STACK_CONFIG_FILE,
        expect=1,
    )


def _step(step: dict[str, Any]) -> str:
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "pause" in step:
        return f"pause {step['pause']['duration']}"
    return "analysis " + ",".join(t["templateName"] for t in step["analysis"]["templates"])


def _url(resource: dict[str, Any]) -> str:
    provider = resource["inputs"]["spec"]["metrics"][0]["provider"]
    return str(provider.get("web", {}).get("url", "prometheus query"))
