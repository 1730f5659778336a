"""`make demo`, scene 12: an RC goes through staging, and only then can it be released.

  percolate 0.3.0-rc1: stand-in images pushed at the plan's CalVer tags (as in scene 4)
  -> `build-index`: the build's own multi-arch index at its CalVer stem
  -> `python -m infra render --stack staging`: percolate-api-staging pinned to that index digest,
     resolved from the registry (percolate-reading has no build with an index: not pinned)
  -> the health gate on percolate-api-staging (the Kubernetes API stand-in of scene 7)
  -> the project's integration tests against a local stand-in of the staging service (the example
     project's own server code on loopback), with a JUnit report
  -> a release refused before the staging record, `staging record` with the report, `staging show`
  -> the release accepted, its `{VERSION}` index digest (read back by skopeo) the one staging ran.

Called by examples/demo.py after its rollback scene; `python examples/demo_staging.py` runs it alone
on a fresh temp monorepo and local registry.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
sys.path.insert(0, str(REPO_ROOT))

from kit.loopback import serving  # noqa: E402
from kit.registry import ImagePusher, LocalRegistry, Skopeo  # noqa: E402
from pipelines.core.catalog import STACK_CONFIG_FILE, STAGING_APPLICATION_SUFFIX, get_project  # noqa: E402

PROJECT = "percolate"
VERSION = "0.3.0"
BUILD_TIME = "2025-11-27T10:15:00Z"


def push_rc(demo: ModuleType, root: Path, registry: str, pusher: Any) -> str:
    """Bump, tag the next rc, push a stand-in image per platform at the plan's tags; the build's CalVer stem."""
    demo.run(root, "pipelines", "versions", "bump", PROJECT, VERSION, show=False)
    demo.git(root, "commit", "-qam", f"{PROJECT} {VERSION}")
    rc_tag = demo.run(root, "pipelines", "tag", "next-rc", PROJECT, show=False).strip()
    demo.git(root, "tag", "-a", rc_tag, "-m", rc_tag)
    print(f"pushed tag {rc_tag}: an RC tag starts a build")
    plan = json.loads(
        demo.run(root, "pipelines", "plan", rc_tag, "--registry", registry, "--at", BUILD_TIME, "--json", show=False)
    )
    tags = []
    for artifact in plan["artifacts"]:
        repository, tag = artifact["name"].removeprefix(registry.split("/")[0] + "/").rsplit(":", 1)
        pusher.manifest(repository, tag, pusher.buildx_index(repository, artifact["platform"], artifact["name"]))
        print(f"  pushed a generated stand-in (not built, tested or scanned) {artifact['name']}")
        tags.append(tag.rsplit("-", 1)[0])
    (stem,) = set(tags)
    return stem


def staging_pin(demo: ModuleType, registry: str, application: str) -> str:
    """What `pulumi up --stack staging` would pin, rendered offline against the local registry."""
    output = demo.run(
        REPO_ROOT, "infra", "render", "--stack", "staging", "--registry", registry, "--check", "--json", show=False
    )
    rendering = json.loads(output)
    pins = {}
    for resource in rendering["resources"]:
        if resource["type"].endswith(":Application"):
            images = resource["inputs"]["spec"]["source"].get("kustomize", {}).get("images", [])
            name = resource["inputs"]["metadata"]["name"]
            pins[name] = images[0] if images else None
            print(f"  Application {name:<26} pins {images[0] if images else '(nothing: no build with an index yet)'}")
    print(f"  policy checks: {'ok' if rendering['policy']['ok'] else 'FAILED'}")
    return str(pins[application])


@contextmanager
def stand_in_service(root: Path) -> Iterator[str]:
    """The example project's own server code on a loopback port, standing in for the staging service."""
    (server,) = (root / PROJECT / "src").glob("*/server.py")
    spec = importlib.util.spec_from_file_location("staging_stand_in", server)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: type[BaseHTTPRequestHandler] = module.Handler
    with serving(handler) as url:
        yield url


def integration_tests(root: Path, url: str, report: Path) -> None:
    print(f"$ STAGING_URL={url} pytest {PROJECT}/tests/integration --junitxml {report.name}")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", f"{PROJECT}/tests/integration", "-q", "-p", "no:cacheprovider",
         "--junitxml", str(report)],
        cwd=root, env={"PATH": "/usr/bin:/bin", "STAGING_URL": url}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    print(result.stdout.strip().splitlines()[-1])
    if result.returncode != 0:
        raise SystemExit(f"the integration tests failed:\n{result.stdout}{result.stderr}")


def scene(demo: ModuleType, root: Path, workdir: Path, registry: str, pusher: Any) -> dict[str, Any]:
    """The staging story of percolate 0.3.0-rc1; returns its staging record (`staging record --json`)."""
    application = f"{get_project(PROJECT).argocd_application}{STAGING_APPLICATION_SUFFIX}"
    stem = push_rc(demo, root, registry, pusher)

    index = json.loads(
        demo.run(
            root, "pipelines", "build-index", PROJECT, "--build", stem, "--registry", registry, "--json", show=False
        )
    )
    digest = index["digest"]
    print(f"wrote the build index {index['reference']}, digest {digest}")

    print("pulumi up --stack staging would declare (rendered offline, digests read from the registry):")
    pinned = staging_pin(demo, registry, application)
    if not pinned.endswith(f"@{digest}"):
        raise SystemExit(f"staging pins {pinned}, not the build index {digest}")
    print(f"staging pins {application} to {digest}")

    with demo.ArgoCdStandIn({application: pinned}).running() as api:
        kubeconfig = api.kubeconfig(workdir / "kubeconfig-staging")
        demo.run(root, "pipelines", "wait-healthy", application, "--digest", digest,
                 "--kubeconfig", str(kubeconfig), "--timeout", "10", "--interval", "0.2")  # fmt: skip
    report = workdir / "staging-report.xml"
    with stand_in_service(root) as url:
        integration_tests(root, url, report)

    tag = f"{PROJECT}-v{VERSION}"
    demo.git(root, "tag", "-a", tag, "-m", tag)
    print(f"pushed tag {tag}: a release, before any staging record")
    promote = ("pipelines", "promote", tag, "--registry", registry, "--stack-config", STACK_CONFIG_FILE)
    demo.run(root, *promote, "--require-staging", expect=1)
    print("release refused before the record")

    record_command = ("pipelines", "staging", "record", PROJECT, "--build", stem, "--result", "passed")
    record = json.loads(demo.run(root, *record_command, "--report", str(report), "--registry", registry, "--json"))
    print(f"staging record {record['digest']} ({record['result']}) about {record['subject']}")
    demo.run(root, "pipelines", "staging", "show", tag, "--registry", registry)

    released = json.loads(
        demo.run(root, *promote, "--require-staging", "--staging-record", record["digest"], "--json", show=False)
    )
    host, namespace = registry.split("/", 1)
    read_back = Skopeo(host).digest(f"{namespace}/{get_project(PROJECT).image_name}", VERSION)
    print(f"released {PROJECT}:{VERSION} index {read_back} (skopeo); staging ran {digest}")
    if not read_back == released["index_digest"] == digest:
        raise SystemExit("the released index is not the digest staging ran")
    print("the released index digest equals the staging digest")
    return dict(record)


def main() -> int:
    sys.path.insert(0, str(HERE))
    import demo  # the helpers of the whole demo: run, git, the monorepo, the Kubernetes API stand-in

    with tempfile.TemporaryDirectory(prefix="percolate-demo-staging-") as temp:
        workdir = Path(temp)
        demo.say("a monorepo with git history; prod runs 0.1.0 of both services")
        root = demo.make_monorepo(workdir)
        local = LocalRegistry(workdir / "registry").start()
        try:
            registry = f"{local.host}/{demo.NAMESPACE}"
            demo.say("12. staging: an RC deploys to staging, passes its tests, and only then is released")
            scene(demo, root, workdir, registry, ImagePusher(local.host))
        finally:
            local.stop()
            print(f"\nlocal registry on {local.host} stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
