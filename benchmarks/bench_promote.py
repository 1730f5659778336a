"""Promoting from a repository of 10,050 CalVer tags: `python -m pipelines promote` next to skopeo.

A real registry (Debian's docker-registry) on loopback holds, in each of two repositories,
50 versions x 100 complete RC builds x 2 platforms, plus one newer amd64-only build per
version: in one every build is shaped like buildx pushes it (a per-arch index of the image
and its attestation), in the other each platform is a plain OCI image manifest. The tags
are written as tag-only manifest PUTs of a few real images, so setting up takes seconds,
not hours. Version N's builds ran, a minute apart, on day N after its commit, which the git
checkout makes that day with the release tag on it (a build never predates its commit; promote
lists the tail of the tag list from that day on, beside the full listing).

pipelines is measured the way the workflows install it: a plain, non-editable `pip install`
of a copy of this checkout (pip compiles its bytecode) into a fresh venv, whose commands run
from a scratch folder, so neither this checkout nor an editable install in this venv is what
they import (the script checks which one is).

For each of several versions, fresh each time (builds without a build index, as before staging):
- pipelines: `promote TAG` (one process): list the tags, choose the newest complete
  build, check the commit, copy both platform manifests, create the index;
- the same command again (a no-op re-run);
- skopeo, given the tags pipelines chose: `skopeo list-tags`, then `skopeo copy --all
  --preserve-digests` of each platform's RC tag to the same release tag (three
  processes; skopeo cannot choose a build or create the index, so it does less).
Both tools first run once on loopback and once through the proxy on versions no timing uses.
Medians (15 versions of each shape on loopback, 7 buildx-shaped through the proxy) are
printed with the ratio skopeo / pipelines and the goal it must meet (issue 23): at least 1.0
on loopback, for both shapes (a CLI in Python as fast as skopeo's Go binary for the whole
job), and at least 2.5 behind 50 ms of latency per request (fewer round trips), also for the
newest version. The same versions go through a counting proxy for each tool, to count
requests and blob bytes uploaded on the wire. The proxy's versions have later tags after their
builds (the tail then runs over several pages, and promote reads the build while they come
in); the newest version, whose builds are on the last page, is measured apart (one run).
Last, the path of a build since staging, through the proxy: `build-index` for the chosen build,
then `promote` copying that index, with the requests each sends.
Results go to benchmarks/results/promote.json. `--source DIR` measures the pipelines of another
checkout (e.g. `git archive` of an earlier commit) with this script, for a before/after.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from kit import registry as localregistry  # noqa: E402
from kit.git import git  # noqa: E402
from pipelines.core.calver import make_build_tag  # noqa: E402
from pipelines.core.catalog import get_project  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "promote.json"
PROJECT = get_project("percolate")
VERSIONS = 50
BUILDS = 100
IMAGES_PER_ARCH = 4
LOOPBACK_RUNS = 15  # a loopback run takes a fifth of a second, where this machine's noise is largest
RUNS = 7  # through the proxy, and in-process
LATENCY = 0.050  # seconds per request through the proxy: a registry across a continent
NAMESPACE = "bench"
OCI_NAMESPACE = "bench-oci"  # the same builds as plain OCI image manifests, one per platform
LOOPBACK_GOAL = 1.0  # skopeo / pipelines on loopback
LATENCY_GOAL = 2.5  # skopeo / pipelines behind LATENCY per request
REPOSITORY = f"{NAMESPACE}/{PROJECT.image_name}"
START = datetime(2025, 1, 1, tzinfo=UTC)


def checkout(folder: Path) -> dict[int, str]:
    """A git checkout with a commit per version, made the day its RC builds ran, and its release tag on it;
    returns each version's commit."""
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    commits = {}
    for version in range(1, VERSIONS + 1):
        made = (START + timedelta(days=version)).isoformat()
        git(folder, "commit", "-q", "--allow-empty", "-m", f"0.{version}.0", at=made)
        git(folder, "tag", f"{PROJECT.name}-v0.{version}.0")
        commits[version] = git(folder, "rev-parse", "HEAD")
    return commits


def build_tag(version: int, build: int, sha: str, arch: str) -> str:
    """The tag of `build` of `version`: its RC builds run, a minute apart, after the version's commit."""
    at = START + timedelta(days=version, minutes=build)
    return make_build_tag(version=f"0.{version}.0", sha=sha, arch=arch, build=version * 1000 + build, at=at).tag


def fill(registry: localregistry.LocalRegistry, commits: dict[int, str], namespace: str = NAMESPACE) -> int:
    """Push a few real images per platform, then point every CalVer tag at one of them; returns the tag count.

    In NAMESPACE the images are buildx-shaped (a per-arch index and its attestation), elsewhere plain OCI images.
    """
    pusher = localregistry.ImagePusher(registry.host)
    repository = f"{namespace}/{PROJECT.image_name}"
    push = pusher.buildx_index if namespace == NAMESPACE else pusher.image
    images = {
        arch: [push(repository, arch, f"{arch}-{n}") for n in range(IMAGES_PER_ARCH)] for arch in PROJECT.platforms
    }
    work = []
    for version in range(1, VERSIONS + 1):
        for build in range(1, BUILDS + 2):
            arches = PROJECT.platforms if build <= BUILDS else ("amd64",)  # the newest build lacks arm64
            for arch in arches:
                work.append((build_tag(version, build, commits[version], arch), images[arch][build % IMAGES_PER_ARCH]))
    sessions = threading.local()

    def put(item: tuple[str, localregistry.Pushed]) -> None:
        session = getattr(sessions, "session", None) or requests.Session()
        sessions.session = session
        tag, pushed = item
        response = session.put(
            f"http://{registry.host}/v2/{repository}/manifests/{tag}",
            data=pushed.data,
            headers={"Content-Type": pushed.media_type},
        )
        if response.status_code != 201:
            raise RuntimeError(f"PUT {tag}: {response.status_code} {response.text}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, work))
    return len(work)


def promote(host: str, version: int, repo: Path, *extra: str, namespace: str = NAMESPACE) -> dict:
    data = pipelines(
        host, "promote", f"{PROJECT.name}-v0.{version}.0", "--root", str(repo), *extra, namespace=namespace
    )
    expected = [f"0.{version}.0-{arch}" for arch in PROJECT.platforms] + [f"0.{version}.0"]
    if not extra and data["tags_unchanged"] == [] and data["tags_written"] != expected:
        raise RuntimeError(f"promote wrote {data['tags_written']}")
    return data


def skopeo_promote(host: str, version: int, chosen: str, namespace: str = NAMESPACE) -> None:
    skopeo = localregistry.Skopeo(host)
    repository = f"{namespace}/{PROJECT.image_name}"
    skopeo.tags(repository)
    for arch in PROJECT.platforms:
        skopeo.copy(repository, f"{chosen}-{arch}", f"0.{version}.0-{arch}")


def take(versions: Iterator[int], count: int) -> list[int]:
    return [next(versions) for _ in range(count)]


def warm_up(host: str, version: int, repo: Path, namespace: str = NAMESPACE) -> None:
    chosen = promote(host, version, repo, "--dry-run", namespace=namespace)["source"]
    promote(host, version, repo, namespace=namespace)
    skopeo_promote(host, version, chosen, namespace)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def compare(
    host: str,
    versions: Iterable[int],
    repo: Path,
    proxy: localregistry.FaultProxy | None = None,
    namespace: str = NAMESPACE,
) -> dict:
    """Median seconds of a fresh promote, a no-op re-run and skopeo over `versions`; requests when proxied."""
    fresh, noop, peer, ours_log, peer_log = [], [], [], [], []
    chosen: dict = {}
    for version in versions:
        mark = len(proxy.log) if proxy else 0
        fresh.append(timed(lambda v=version: chosen.update(promote(host, v, repo, namespace=namespace))))
        ours_log = proxy.log[mark:] if proxy else []
        noop.append(timed(lambda v=version: promote(host, v, repo, namespace=namespace)))
        mark = len(proxy.log) if proxy else 0
        peer.append(timed(lambda v=version: skopeo_promote(host, v, chosen["source"], namespace)))
        peer_log = proxy.log[mark:] if proxy else []
    figures = {
        "pipelines promote (fresh)": statistics.median(fresh),
        "pipelines promote (re-run, no-op)": statistics.median(noop),
        "skopeo list-tags + copy per platform": statistics.median(peer),
    }
    result = {
        "median_seconds": figures,
        "skopeo_over_pipelines": figures["skopeo list-tags + copy per platform"] / figures["pipelines promote (fresh)"],
        "pipelines_requests": chosen["requests"],
    }
    if proxy:
        result["wire"] = {"pipelines promote": wire(ours_log), "skopeo": wire(peer_log)}
    return result


def wire(log: list) -> dict:
    """What a proxy saw of one run: requests, tag-list pages, and bytes uploaded to blob endpoints."""
    uploads = sum(e.body_bytes for e in log if "/blobs/" in e.path and e.method in ("POST", "PUT", "PATCH"))
    return {
        "requests": len(log),
        "tag_list_pages": sum(1 for e in log if e.path.endswith("/tags/list")),
        "blob_bytes_uploaded": uploads,
    }


def build_index_then_promote(host: str, version: int, repo: Path, proxy: localregistry.FaultProxy) -> dict:
    """An RC build's path since staging: `build-index` for the chosen build, then `promote` copying that index."""
    chosen = promote(host, version, repo, "--dry-run")["source"]
    figures = {}
    for label, command in (
        ("build-index", ["build-index", PROJECT.name, "--build", chosen]),
        ("promote (copying the build index)", ["promote", f"{PROJECT.name}-v0.{version}.0", "--root", str(repo)]),
    ):
        mark = len(proxy.log)
        start = time.perf_counter()
        data = pipelines(host, *command)
        figures[label] = {"seconds": time.perf_counter() - start, "wire": wire(proxy.log[mark:]), "data": data}
    if figures["promote (copying the build index)"]["data"]["from_build_index"] is not True:
        raise RuntimeError("promote did not copy the build index")
    return {label: {"seconds": f["seconds"], "wire": f["wire"]} for label, f in figures.items()}


INSTALLED: dict[str, Path] = {}  # "python" of the venv, "site": its site-packages, "cwd": where commands run


def install(scratch: Path, checkout: Path = ROOT) -> None:
    """`pip install` a copy of this checkout, not editable, into a venv of its own: what the commands run.

    The copy keeps pip's build (setuptools writes `build/` and `*.egg-info` beside the sources) out of
    the checkout. The venv is a fresh one, as a workflow's: this venv's site-packages, where the
    dependencies are, is on its path as a plain folder (a `.pth` line), so this venv's editable install
    of a checkout (its `.pth` hook costs every start about 8 ms) is neither run nor imported. Checks that
    a command started as the benchmark starts them imports the compiled install.
    """
    source, venv, cwd = scratch / "source", scratch / "venv", scratch / "cwd"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("pipelines", "infra"):
        shutil.copytree(checkout / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(checkout / name, source / name)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--target", str(site), str(source)], check=True, capture_output=True)
    (site / "bench-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    cwd.mkdir()
    INSTALLED.update(python=python, site=site, cwd=cwd)
    imported = subprocess.run(
        [
            python,
            "-c",
            "import sys, pipelines; print(pipelines.__file__, any('editable' in repr(f) for f in sys.meta_path))",
        ],
        cwd=cwd,
        env=command_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    compiled = list((site / "pipelines").glob("__pycache__/*.pyc"))
    if not Path(imported[0]).is_relative_to(site) or imported[1] != "False" or not compiled:
        raise RuntimeError(f"the commands would import {imported}, not the compiled install in {site}")


def command_env() -> dict[str, str]:
    return {**os.environ, "DOCKER_CONFIG": str(ROOT / ".no-docker")}  # anonymous: no Docker config


def pipelines(host: str, *args: str, namespace: str = NAMESPACE) -> dict:
    result = subprocess.run(
        [INSTALLED["python"], "-m", "pipelines", *args, "--registry", f"{host}/{namespace}", "--json"],
        cwd=INSTALLED["cwd"],
        check=False,
        capture_output=True,
        text=True,
        env=command_env(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {result.stderr}")
    return json.loads(result.stdout)


def in_process(host: str, versions: Iterable[int], repo: Path) -> float:
    """Median seconds of `promote_release` called in this process: the command without interpreter start-up."""
    from pipelines.core.versions import ProjectVersion
    from pipelines.images.registry.client import RegistryClient
    from pipelines.images.registry.location import parse_registry
    from pipelines.images.release import promote_release

    samples = []
    for version in versions:
        with RegistryClient(parse_registry(f"{host}/{NAMESPACE}"), push=True) as client:
            commit = git(repo, "rev-parse", f"{PROJECT.name}-v0.{version}.0^{{commit}}")
            release = ProjectVersion(0, version, 0)
            tag = f"{PROJECT.name}-v0.{version}.0"
            samples.append(
                timed(
                    lambda c=client, r=release, t=tag, s=commit: promote_release(
                        PROJECT, r, c, release_tag=t, release_commit=s, in_checkout=True
                    )
                )
            )
    return statistics.median(samples)


def report(title: str, result: dict, goal: float) -> None:
    print(title)
    for label, seconds in result["median_seconds"].items():
        print(f"  {label:40s} {seconds * 1000:8.1f} ms")
    ratio = result["skopeo_over_pipelines"]
    met = "met" if ratio >= goal else "NOT met"
    print(f"  skopeo / pipelines: {ratio:.2f}x (goal at least {goal:.1f}x: {met})")
    for tool, seen in result.get("wire", {}).items():
        print(
            f"  {tool:20s} {seen['requests']:3d} requests, {seen['tag_list_pages']} tag-list pages, "
            f"{seen['blob_bytes_uploaded']} blob bytes uploaded"
        )


def main() -> int:
    # `--source DIR`: measure the pipelines of another checkout (an earlier commit's, for a before/after).
    source = Path(sys.argv[sys.argv.index("--source") + 1]) if "--source" in sys.argv else ROOT
    with tempfile.TemporaryDirectory() as temp:
        scratch = Path(temp)
        install(scratch, source)
        commits = checkout(scratch / "checkout")
        repo = scratch / "checkout"
        registry = localregistry.LocalRegistry(scratch / "registry").start()
        proxy = localregistry.FaultProxy(registry.host, page_size=1000, latency=LATENCY).start()
        try:
            setup = time.perf_counter()
            tag_count = fill(registry, commits)
            fill(registry, commits, OCI_NAMESPACE)
            setup = time.perf_counter() - setup
            print(f"registry {registry.host}: {tag_count} CalVer tags pushed in {setup:.1f}s")
            # The fill leaves the disk writing back 10,000 tag folders: wait for it, then warm both tools
            # up on a version no timing uses, so neither pays for the first start or a cold cache.
            os.sync()
            # Each fresh promotion needs a version of its own; the newest one is kept for last.
            versions = iter(range(1, VERSIONS))
            oci_versions = iter(range(1, VERSIONS))
            warm_up(registry.host, next(versions), repo)
            warm_up(proxy.host, next(versions), repo)
            warm_up(registry.host, next(oci_versions), repo, OCI_NAMESPACE)
            direct_oci = compare(registry.host, take(oci_versions, LOOPBACK_RUNS), repo, namespace=OCI_NAMESPACE)
            direct = compare(registry.host, take(versions, LOOPBACK_RUNS), repo)
            remote = compare(proxy.host, take(versions, RUNS), repo, proxy)
            library = in_process(registry.host, take(versions, RUNS), repo)
            staged = build_index_then_promote(proxy.host, next(versions), repo, proxy)
            # The version released is usually the newest, its builds on the last page, where nothing is
            # left to read them ahead during: the same comparison for it (one version, one run).
            newest = compare(proxy.host, range(VERSIONS, VERSIONS + 1), repo, proxy)
            startup = statistics.median(
                timed(lambda: subprocess.run([INSTALLED["python"], "-c", "pass"], check=True)) for _ in range(RUNS)
            )
        finally:
            proxy.stop()
            registry.stop()

    print(
        f"{tag_count} tags per repository; medians of {LOOPBACK_RUNS} versions on loopback, {RUNS} through the "
        f"proxy; interpreter start-up {startup * 1000:.1f} ms; promote_release in-process {library * 1000:.1f} ms; "
        f"pipelines as installed by pip in {INSTALLED['site']}"
    )
    report(
        "loopback registry, no latency, OCI-shaped builds (an image manifest per platform):", direct_oci, LOOPBACK_GOAL
    )
    report(
        "loopback registry, no latency, buildx-shaped builds (per platform an index + attestation):",
        direct,
        LOOPBACK_GOAL,
    )
    report(
        f"through a proxy adding {LATENCY * 1000:.0f} ms per request and paging tag lists at 1000:",
        remote,
        LATENCY_GOAL,
    )
    report(
        "the same proxy, releasing the newest version (its builds on the last page, none read ahead), one run:",
        newest,
        LATENCY_GOAL,
    )
    print(f"the path since staging, through the same proxy ({LATENCY * 1000:.0f} ms per request):")
    for label, figure in staged.items():
        print(f"  {label:40s} {figure['seconds'] * 1000:8.1f} ms, {figure['wire']['requests']} requests")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "tags_in_repository": tag_count,
                "versions": VERSIONS,
                "complete_builds_per_version": BUILDS,
                "setup_seconds": setup,
                "loopback_runs": LOOPBACK_RUNS,
                "runs": RUNS,
                "interpreter_startup_seconds": startup,
                "promote_release_in_process_seconds": library,
                "loopback_oci": direct_oci,
                "loopback": direct,
                f"proxy_{LATENCY * 1000:.0f}ms_per_request_paging_1000": remote,
                "newest_version_through_the_proxy": newest,
                "build_index_then_promote_through_the_proxy": staged,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
