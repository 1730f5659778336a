"""Build time and page size of `python -m pipelines dashboard` for 1,000 releases over three years
(goals: the build in at most 1 s, the page at most 400 KB).

A temp git repository gets 1,000 releases spread over three years (about 333 per project, each with two
RC tags, so 3,000 annotated tags) and, for the image projects, one commit of Pulumi.prod.yaml per release
(667 versions of the stack file); every 25th image release is rolled back an hour after its deploy (a
rollback commit that blocks it), so the deploy history has rollbacks too. Measured, as the median of
repeated runs:
- the whole command in a fresh process (git reads, computation, the page, both files written);
- the peer run in the same script: git alone reading the same data the way a naive reader would
  (`git for-each-ref` plus one `git show` per stack-file version), the floor any reader pays without a
  batched read;
- `assemble` + `render` in process (the pure part), to show where the time goes;
- the whole command again with `--data`, as the Pages workflow always runs it: one staging record per RC
  (2,000: an image record naming the build's CalVer stem, a wheel record the RC's version), same goal.
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

RELEASES = 1000
YEARS = 3
RUNS = 5
GOAL_SECONDS = 1.0
GOAL_PAGE_BYTES = 400 * 1024
RESULTS = ROOT / "benchmarks" / "results" / "dashboard.json"
ENV = environment()


def stack_file(versions: dict[str, str | None], blocked: dict[str, list[str]]) -> str:
    """Pulumi.prod.yaml pinning these versions of the two image projects (digests derived from the version)."""
    text = "config:\n  percolate-platform:images:\n"
    for project, version in versions.items():
        if version is None:
            continue
        digest = "sha256:" + hashlib.sha256(f"{project}/{version}".encode()).hexdigest()
        text += (
            f"    {project}:\n      repository: ghcr.io/percolation-labs/{project}\n      version: {version}\n"
            f"      digest: {digest}\n      platforms: {{amd64: {digest}, arm64: {digest}}}\n"
            f"      source: 2025.01.01.0000-build.1-v{version}-abc1234\n"
        )
        if blocked[project]:
            text += f"      blocked: [{', '.join(blocked[project])}]\n"
    return text


def _commit(stream: list[str], mark: int, when: int, message: str, text: str) -> None:
    stream += [
        "commit refs/heads/main",
        f"mark :{mark}",
        f"committer Bench <bench@example.invalid> {when} +0000",
        f"data {len(message)}",
        message,
        f"M 644 inline Pulumi.prod.yaml\ndata {len(text.encode())}\n{text}",
    ]


def make_history(root: Path) -> int:
    """1,000 releases over three years in one fast-import stream: commits with dates, the stack file's
    versions (rollbacks among them), and tags. Returns the number of stack-file versions."""
    git(root, "init", "-q", "-b", "main")
    stream: list[str] = []
    start, step = 1_700_000_000, YEARS * 365 * 86400 // RELEASES
    projects = ("percolate", "percolate-reading", "percolate-rocks")
    versions: dict[str, str | None] = {"percolate": None, "percolate-reading": None}
    previous: dict[str, str | None] = dict(versions)
    blocked: dict[str, list[str]] = {"percolate": [], "percolate-reading": []}
    mark = 0
    for number in range(RELEASES):
        project = projects[number % 3]
        version = f"1.{number // 3}.0"
        when = start + number * step
        mark += 1
        if project in versions:
            previous[project], versions[project] = versions[project], version
        _commit(stream, mark, when, f"deploy: {project} {version} (#{number + 1})", stack_file(versions, blocked))
        for rc in (1, 2, None):
            name = f"{project}-v{version}" + (f"-rc{rc}" if rc else "")
            stream += [
                f"tag {name}",
                f"from :{mark}",
                f"tagger Bench <bench@example.invalid> {when - 3600 * (3 - (rc or 3))} +0000",
                f"data {len(name)}",
                name,
            ]
        if project in versions and number % 25 == 0 and previous[project] is not None:
            blocked[project].append(version)
            versions[project] = previous[project]
            mark += 1
            message = f"rollback: {project} {version} -> {versions[project]}"
            _commit(stream, mark, when + 3600, message, stack_file(versions, blocked))
    git(root, "fast-import", "--quiet", input="\n".join(stream) + "\n")
    git(root, "reset", "-q", "--hard", "main")
    return mark


def write_staging_records(folder: Path, sha7: str) -> int:
    """One staging record per RC tag of `make_history` (recorded ten minutes after the RC); their count."""
    start, step = 1_700_000_000, YEARS * 365 * 86400 // RELEASES
    projects = ("percolate", "percolate-reading", "percolate-rocks")
    count = 0
    for number in range(RELEASES):
        project, version = projects[number % 3], f"1.{number // 3}.0"
        for rc in (1, 2):
            when = datetime.fromtimestamp(start + number * step - 3600 * (3 - rc) + 600, UTC)
            wheels = project == "percolate-rocks"
            build = f"{version}rc{rc}" if wheels else f"{when:%Y.%m.%d.%H%M}-build.{number}{rc}-v{version}-{sha7}"
            record = {
                "kind": "wheel-staging-record" if wheels else "staging-record",
                "project": project,
                "build": build,
                "result": "passed",
                "recorded_at": when.isoformat(),
            }
            (folder / f"{project}-v{version}-rc{rc}.json").write_text(json.dumps(record))
            count += 1
    return count


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
        now = "2026-11-20T00:00:00+00:00"  # just after the last release: the DORA window holds the newest
        command = [sys.executable, "-m", "pipelines", "dashboard", "--out", str(out), "--root", str(root), "--at", now]
        env = {**ENV, "PYTHONPATH": str(ROOT)}
        whole = median_seconds(lambda: subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True))
        data = Path(temp) / "records"
        data.mkdir()
        records = write_staging_records(data, git(root, "rev-parse", "HEAD")[:7])
        with_data = [*command, "--data", str(data)]
        whole_with_records = median_seconds(
            lambda: subprocess.run(with_data, cwd=ROOT, env=env, check=True, capture_output=True)
        )
        size_with_records = (out / "index.html").stat().st_size

        def naive_git() -> None:
            git(root, "for-each-ref", "refs/tags")
            for commit in git(root, "log", "--format=%H", "--", "Pulumi.prod.yaml").split():
                git(root, "show", f"{commit}:Pulumi.prod.yaml")

        peer = median_seconds(naive_git, runs=3)
        history = GitHistory(root)
        tags, versions = history.tags(), history.file_versions("Pulumi.prod.yaml")
        pure = median_seconds(lambda: render(assemble(tags, versions, Records(), datetime.fromisoformat(now))))
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
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
        "page_kb": round(size / 1024, 1),
        "staging_records": records,
        "dashboard_command_with_records_s": round(whole_with_records, 3),
        "page_with_records_kb": round(size_with_records / 1024, 1),
        "goal_s": GOAL_SECONDS,
        "goal_page_kb": GOAL_PAGE_BYTES // 1024,
        "meets_goal": max(whole, whole_with_records) <= GOAL_SECONDS
        and max(size, size_with_records) <= GOAL_PAGE_BYTES,
    }
    for key, value in figures.items():
        print(f"{key:>34}: {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
