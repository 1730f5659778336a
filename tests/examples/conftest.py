"""The demo's one run (`make demo`, examples/demo.py), shared by every test that asserts on what it showed."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoRun:
    """`make demo` run once for the whole test run: what it printed and where it worked."""

    returncode: int
    stdout: str
    stderr: str
    temp: Path
    site: Path  # where it wrote the release dashboard


def _run_demo(temp: Path, site: Path) -> DemoRun:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "demo.py")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(temp), "DEMO_DASHBOARD_DIR": str(site)},
    )
    return DemoRun(result.returncode, result.stdout, result.stderr, temp, site)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One run of the demo for every test that asserts on it (tests/examples/test_demo*.py). Under pytest-xdist a
    session fixture runs once per worker: the first worker to get here runs the demo in the run's shared temp
    folder and leaves its result there, the others wait on a lock and read it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _run_demo(tmp_path_factory.mktemp("demo"), tmp_path_factory.mktemp("demo-dashboard"))
    shared = tmp_path_factory.getbasetemp().parent  # one folder per test run, shared by its workers
    with (shared / "demo-run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / "demo-run.json"
        if saved.exists():
            fields = json.loads(saved.read_text(encoding="utf-8"))
            return DemoRun(**{**fields, "temp": Path(fields["temp"]), "site": Path(fields["site"])})
        temp, site = shared / "demo", shared / "demo-dashboard"
        temp.mkdir()
        site.mkdir()
        run = _run_demo(temp, site)
        saved.write_text(json.dumps({**asdict(run), "temp": str(temp), "site": str(site)}), encoding="utf-8")
        return run
