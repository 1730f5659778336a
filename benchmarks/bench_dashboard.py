"""Build time of `python -m pipelines dashboard` for a history of 500 releases (goal: under 2 s).

A temp git repository gets 500 releases (about 167 per project, each with two RC tags, so 1,500
annotated tags) and, for the image projects, one commit of Pulumi.prod.yaml per release (333 versions
of the stack file). Measured, as the median of repeated runs:
- the whole command in a fresh process (git reads, computation, the page, both files written);
- the peer run in the same script: git alone reading the same data the way a naive reader would
  (`git for-each-ref` plus one `git show` per stack-file version), the floor any reader pays without a
  batched read;
- `assemble` + `render` in process (the pure part), to show where the time goes.
Prints the figures and writes them to benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.git import environment, git  # noqa: E402
from pipelines.dashboard.build import assemble  # noqa: E402
from pipelines.dashboard.data import Records  # noqa: E402
from pipelines.dashboard.page import render  # noqa: E402
from pipelines.edges.git_history import GitHistory  # noqa: E402

RELEASES = 500
RUNS = 5
GOAL_SECONDS = 2.0
RESULTS = ROOT / "benchmarks" / "results" / "dashboard.json"
ENV = environment()


def stack_file(percolate: str | None, reading: str | None) -> str:
    """Pulumi.prod.yaml pinning these versions of the two image projects (digests derived from the version)."""
    text = "config:\n  percolate-platform:images:\n"
    for project, version in (("percolate", percolate), ("percolate-reading", reading)):
        if version is None:
            continue
        digest = "sha256:" + hashlib.sha256(f"{project}/{version}".encode()).hexdigest()
        text += (
            f"    {project}:\n      repository: ghcr.io/percolation-labs/{project}\n      version: {version}\n"
            f"      digest: {digest}\n      platforms: {{amd64: {digest}, arm64: {digest}}}\n"
            f"      source: 2025.01.01.0000-build.1-v{version}-abc1234\n"
        )
    return text


def make_history(root: Path) -> None:
    """500 releases in one fast-import stream: commits with dates, the stack file's versions, and tags."""
    git(root, "init", "-q", "-b", "main")
    stream, start = [], 1_700_000_000
    projects = ("percolate", "percolate-reading", "percolate-rocks")
    versions = {"percolate": None, "percolate-reading": None}
    for number in range(RELEASES):
        project = projects[number % 3]
        version = f"1.{number // 3}.0"
        if project in versions:
            versions[project] = version
        text = stack_file(versions["percolate"], versions["percolate-reading"])
        mark = number + 1
        when = start + number * 3600
        message = f"release {project} {version}"
        stream += [
            "commit refs/heads/main",
            f"mark :{mark}",
            f"committer Bench <bench@example.invalid> {when} +0000",
            f"data {len(message)}",
            message,
            f"M 644 inline Pulumi.prod.yaml\ndata {len(text.encode())}\n{text}",
        ]
        for rc in (1, 2, None):
            name = f"{project}-v{version}" + (f"-rc{rc}" if rc else "")
            stream += [
                f"tag {name}",
                f"from :{mark}",
                f"tagger Bench <bench@example.invalid> {when + 600 * (rc or 3)} +0000",
                f"data {len(name)}",
                name,
            ]
    git(root, "fast-import", "--quiet", input="\n".join(stream) + "\n")
    git(root, "reset", "-q", "--hard", "main")


def median_seconds(action, runs: int = RUNS) -> float:
    action()  # warm the file cache once
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        action()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as temp:
        root, out = Path(temp) / "repo", Path(temp) / "site"
        root.mkdir()
        make_history(root)
        command = [sys.executable, "-m", "pipelines", "dashboard", "--out", str(out), "--root", str(root)]
        env = {**ENV, "PYTHONPATH": str(ROOT)}
        whole = median_seconds(lambda: subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True))

        def naive_git() -> None:
            git(root, "for-each-ref", "refs/tags")
            for commit in git(root, "log", "--format=%H", "--", "Pulumi.prod.yaml").split():
                git(root, "show", f"{commit}:Pulumi.prod.yaml")

        peer = median_seconds(naive_git, runs=3)
        history = GitHistory(root)
        tags, versions = history.tags(), history.file_versions("Pulumi.prod.yaml")
        now = datetime.now(UTC)
        pure = median_seconds(lambda: render(assemble(tags, versions, Records(), now)))
        size = (out / "index.html").stat().st_size
    figures = {
        "releases": RELEASES,
        "tags": len(tags),
        "stack_file_versions": len(versions),
        "dashboard_command_s": round(whole, 3),
        "peer_naive_git_reads_s": round(peer, 3),
        "ratio_command_to_naive_git": round(whole / peer, 2),
        "assemble_and_render_s": round(pure, 3),
        "page_bytes": size,
        "goal_s": GOAL_SECONDS,
        "meets_goal": whole < GOAL_SECONDS,
    }
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
