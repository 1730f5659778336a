"""A monorepo with a scripted release history, built once per module: tags, deploys and a rollback at
fixed times, so every number the dashboard computes from it is known in advance.

The story (UTC; the page's "now" is 2025-11-30 00:00, so the DORA window starts 2025-09-01 00:00):
- percolate 0.1.0: deployed 2025-08-03 (before the window).
- percolate 0.2.0: commit 09-10 09:00, rc1 09-10 10:00, rc2 09-11 10:00, release 09-12 10:00, deployed 09-13 10:00.
- percolate 0.3.0: commit 10-01 08:00, rc1 10-01 09:00, release 10-02 09:00, deployed 10-03 08:00,
  rolled back to 0.2.0 at 10-03 12:00 (0.3.0 blocked).
- percolate 0.3.1: commit 10-20 06:00, rc1 10-20 08:00, release 10-21 08:00, deployed 10-22 06:00.
- percolate-reading 0.1.0: commit 10-05 07:00, rc1 10-05 08:00, release 10-05 20:00, deployed 10-06 08:00;
  0.1.1: commit 10-10 07:00, rc1 10-10 08:00 (staging failed 10-10 09:00), rc2 10-11 08:00 (staging passed
  10-11 10:00), release 10-12 08:00, deployed 10-13 08:00 by PR #41;
  0.1.2: commit 10-14 06:00, rc1 10-14 07:00 (staging passed 10-14 08:00), release 10-14 09:00, deployed
  10-14 10:00 by PR #42, rolled back to 0.1.1 at 10-14 11:00 (0.1.2 blocked, PR #43), and that rollback
  rolled back to 0.1.0 at 10-14 13:00 (0.1.1 blocked too; a direct commit): a rollback of a rollback;
  0.2.0-rc1 at 11-25 09:00, whose staging run failed (a newer record than the passed one of 0.1.0).
- percolate-rocks 0.1.0: commit 09-01 11:00, rc1 09-01 12:00, release 09-05 12:00;
  0.2.0: commit 11-01 09:00, rc1 11-01 10:00, rc2 11-03 10:00, release 11-04 10:00 (benchmarks of rc1, rc2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit.git import git

NOW = datetime(2025, 11, 30, tzinfo=UTC)
REPOSITORY = "example-org/mono"


def digest_of(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass
class ScriptedRepo:
    root: Path
    data: Path

    def git(self, *args: str, at: str | None = None) -> str:
        return git(self.root, *args, at=f"{at}+00:00" if at else None)

    def commit(self, at: str, message: str, files: dict[str, str] | None = None) -> None:
        for name, text in (files or {"CHANGES": message + "\n"}).items():
            path = self.root / name
            path.write_text((path.read_text() if name == "CHANGES" and path.exists() else "") + text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, at=at)

    def tag(self, name: str, at: str) -> None:
        self.git("tag", "-a", name, "-m", name, at=at)


def image_entry(project: str, version: str, blocked: list[str] | None = None) -> str:
    lines = [
        f"    {project}:",
        f"      repository: ghcr.io/percolation-labs/{project}",
        f"      version: {version}",
        f"      digest: {digest_of(project, version)}",
        "      platforms:",
        f"        amd64: {digest_of(project, version, 'amd64')}",
        f"        arm64: {digest_of(project, version, 'arm64')}",
        f"      source: 2025.01.01.0000-build.1-v{version}-abc1234",
    ]
    if blocked:
        lines.append(f"      blocked: [{', '.join(blocked)}]")
    return "\n".join(lines) + "\n"


def stack_file(
    percolate: str | None,
    reading: str | None,
    blocked: list[str] | None = None,
    reading_blocked: list[str] | None = None,
) -> str:
    text = (
        "# people's comments stay\nconfig:\n  percolate-platform:repository:\n"
        "    owner: example-org\n    name: mono\n  percolate-platform:images:\n"
    )
    if percolate:
        text += image_entry("percolate", percolate, blocked)
    if reading:
        text += image_entry("percolate-reading", reading, reading_blocked)
    return text


def benchmark_file(scale: float) -> str:
    """A pytest-benchmark JSON document in the shape pytest-benchmark 5 writes (two benchmarks)."""
    benchmarks = []
    for name, median in (("test_parse", 0.002), ("test_index", 0.010)):
        m = median * scale
        benchmarks.append(
            {
                "group": None,
                "name": name,
                "fullname": f"benches/test_core.py::{name}",
                "stats": {
                    "min": m * 0.9,
                    "max": m * 1.2,
                    "mean": m,
                    "median": m,
                    "q1": m * 0.97,
                    "q3": m * 1.03,
                    "iqr": m * 0.06,
                    "rounds": 50,
                    "iterations": 1,
                    "stddev": m * 0.02,
                    "ops": 1 / m,
                },
            }
        )
    return json.dumps(
        {
            "machine_info": {"node": "runner"},
            "commit_info": {},
            "benchmarks": benchmarks,
            "datetime": "2025-11-01T10:00:00+00:00",
            "version": "5.1.0",
        }
    )


def write_records(data: Path, commits: dict[str, str] | None = None) -> None:
    (data / "percolate-rocks-v0.2.0-rc1").mkdir(parents=True)
    (data / "percolate-rocks-v0.2.0-rc1" / "benchmarks.json").write_text(benchmark_file(1.0))
    (data / "percolate-rocks-v0.2.0-rc2").mkdir()
    (data / "percolate-rocks-v0.2.0-rc2" / "benchmarks.json").write_text(benchmark_file(1.5))
    build_record = {
        "tag": "percolate-rocks-v0.2.0-rc2",
        "project": "percolate-rocks",
        "version": "0.2.0",
        "rc": 2,
        "package_version": "0.2.0rc2",
        "commit": "0" * 40,
        "run_number": 7,
        "run_id": "1",
        "files": [
            {"name": "percolate_rocks-0.2.0rc2-cp39-abi3-manylinux_2_17_x86_64.whl", "sha256": "ab" * 32, "size": 1000}
        ],
    }
    (data / "percolate-rocks-v0.2.0-rc2" / "build-metadata.json").write_text(json.dumps(build_record))
    sha = {version: commit[:7] for version, commit in (commits or {}).items()}
    staging = [
        ("passed", "2025-10-05T09:00:00Z", "2025.10.05.0800-build.3-v0.1.0-abc1234"),
        ("failed", "2025-11-25T10:00:00Z", "2025.11.25.0900-build.9-v0.2.0-def5678"),
        ("failed", "2025-10-10T09:00:00Z", f"2025.10.10.0800-build.4-v0.1.1-{sha.get('0.1.1', 'abc1234')}"),
        ("passed", "2025-10-11T10:00:00Z", f"2025.10.11.0800-build.5-v0.1.1-{sha.get('0.1.1', 'abc1234')}"),
        ("passed", "2025-10-14T08:00:00Z", f"2025.10.14.0700-build.6-v0.1.2-{sha.get('0.1.2', 'abc1234')}"),
    ]
    for number, (result, recorded, build) in enumerate(staging):
        record = {
            "kind": "staging-record",
            "project": "percolate-reading",
            "build": build,
            "subject": digest_of(build),
            "result": result,
            "recorded_at": recorded,
            "run_url": f"https://github.com/example-org/mono/actions/runs/{number + 1}",
            "digest": digest_of(build, "record"),
            "reference": f"ghcr.io/x/y@{digest_of(build, 'record')}",
        }
        (data / f"staging-{number}.json").write_text(json.dumps(record))
    (data / "stray.json").write_text('{"something": "else"}')


def build_story(root: Path, data: Path) -> ScriptedRepo:
    repo = ScriptedRepo(root, data)
    root.mkdir()
    data.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.commit("2025-07-01T00:00:00", "import", {"Pulumi.prod.yaml": stack_file(None, None)})
    repo.commit("2025-08-01T09:00:00", "percolate 0.1.0")
    repo.tag("percolate-v0.1.0-rc1", "2025-08-01T10:00:00")
    repo.tag("percolate-v0.1.0", "2025-08-02T10:00:00")
    repo.commit("2025-08-03T10:00:00", "deploy percolate 0.1.0", {"Pulumi.prod.yaml": stack_file("0.1.0", None)})
    repo.commit("2025-09-01T11:00:00", "rocks 0.1.0")
    repo.tag("percolate-rocks-v0.1.0-rc1", "2025-09-01T12:00:00")
    repo.tag("percolate-rocks-v0.1.0", "2025-09-05T12:00:00")
    repo.commit("2025-09-10T09:00:00", "percolate 0.2.0")
    repo.tag("percolate-v0.2.0-rc1", "2025-09-10T10:00:00")
    repo.tag("percolate-v0.2.0-rc2", "2025-09-11T10:00:00")
    repo.tag("percolate-v0.2.0", "2025-09-12T10:00:00")
    repo.commit("2025-09-13T10:00:00", "deploy percolate 0.2.0", {"Pulumi.prod.yaml": stack_file("0.2.0", None)})
    repo.commit("2025-10-01T08:00:00", "percolate 0.3.0")
    repo.tag("percolate-v0.3.0-rc1", "2025-10-01T09:00:00")
    repo.tag("percolate-v0.3.0", "2025-10-02T09:00:00")
    repo.commit("2025-10-03T08:00:00", "deploy percolate 0.3.0", {"Pulumi.prod.yaml": stack_file("0.3.0", None)})
    repo.commit(
        "2025-10-03T12:00:00",
        "rollback: percolate 0.3.0 -> 0.2.0",
        {"Pulumi.prod.yaml": stack_file("0.2.0", None, blocked=["0.3.0"])},
    )
    repo.commit("2025-10-05T07:00:00", "reading 0.1.0")
    repo.tag("percolate-reading-v0.1.0-rc1", "2025-10-05T08:00:00")
    repo.tag("percolate-reading-v0.1.0", "2025-10-05T20:00:00")
    repo.commit(
        "2025-10-06T08:00:00",
        "deploy reading 0.1.0",
        {"Pulumi.prod.yaml": stack_file("0.2.0", "0.1.0", blocked=["0.3.0"])},
    )
    repo.commit("2025-10-10T07:00:00", "reading 0.1.1")
    repo.tag("percolate-reading-v0.1.1-rc1", "2025-10-10T08:00:00")
    repo.tag("percolate-reading-v0.1.1-rc2", "2025-10-11T08:00:00")
    repo.tag("percolate-reading-v0.1.1", "2025-10-12T08:00:00")
    reading_commits = {"0.1.1": repo.git("rev-parse", "HEAD")}
    repo.commit(
        "2025-10-13T08:00:00",
        "deploy: percolate-reading 0.1.1 (#41)",
        {"Pulumi.prod.yaml": stack_file("0.2.0", "0.1.1", blocked=["0.3.0"])},
    )
    repo.commit("2025-10-14T06:00:00", "reading 0.1.2")
    repo.tag("percolate-reading-v0.1.2-rc1", "2025-10-14T07:00:00")
    repo.tag("percolate-reading-v0.1.2", "2025-10-14T09:00:00")
    reading_commits["0.1.2"] = repo.git("rev-parse", "HEAD")
    repo.commit(
        "2025-10-14T10:00:00",
        "deploy: percolate-reading 0.1.2 (#42)",
        {"Pulumi.prod.yaml": stack_file("0.2.0", "0.1.2", blocked=["0.3.0"])},
    )
    repo.commit(
        "2025-10-14T11:00:00",
        "rollback: percolate-reading 0.1.2 -> 0.1.1 (#43)",
        {"Pulumi.prod.yaml": stack_file("0.2.0", "0.1.1", blocked=["0.3.0"], reading_blocked=["0.1.2"])},
    )
    repo.commit(
        "2025-10-14T13:00:00",
        "rollback: percolate-reading 0.1.1 -> 0.1.0",
        {"Pulumi.prod.yaml": stack_file("0.2.0", "0.1.0", blocked=["0.3.0"], reading_blocked=["0.1.2", "0.1.1"])},
    )
    repo.commit("2025-10-20T06:00:00", "percolate 0.3.1")
    repo.tag("percolate-v0.3.1-rc1", "2025-10-20T08:00:00")
    repo.tag("percolate-v0.3.1", "2025-10-21T08:00:00")
    repo.commit(
        "2025-10-22T06:00:00",
        "deploy percolate 0.3.1",
        {"Pulumi.prod.yaml": stack_file("0.3.1", "0.1.0", blocked=["0.3.0"], reading_blocked=["0.1.2", "0.1.1"])},
    )
    repo.commit("2025-11-01T09:00:00", "rocks 0.2.0")
    repo.tag("percolate-rocks-v0.2.0-rc1", "2025-11-01T10:00:00")
    repo.tag("percolate-rocks-v0.2.0-rc2", "2025-11-03T10:00:00")
    repo.tag("percolate-rocks-v0.2.0", "2025-11-04T10:00:00")
    repo.commit("2025-11-25T08:00:00", "reading 0.2.0")
    repo.tag("percolate-reading-v0.2.0-rc1", "2025-11-25T09:00:00")
    repo.tag("not-a-release-tag", "2025-11-26T09:00:00")
    write_records(data, reading_commits)
    return repo


@pytest.fixture(scope="session")
def story(tmp_path_factory) -> ScriptedRepo:
    """The scripted history, built once per test session (per xdist worker): no test changes it."""
    base = tmp_path_factory.mktemp("story")
    return build_story(base / "monorepo", base / "records")


@pytest.fixture(scope="session")
def site(story, tmp_path_factory):
    """The site `dashboard` writes for the story at NOW (index.html, dashboard.json), and the command's result."""
    from tests.conftest import run_cli

    out = tmp_path_factory.mktemp("site")
    result = run_cli(
        "dashboard",
        "--out",
        str(out),
        "--root",
        str(story.root),
        "--data",
        str(story.data),
        "--at",
        NOW.isoformat(),
        "--json",
    )
    assert result.code == 0, result.stderr
    return out, result
