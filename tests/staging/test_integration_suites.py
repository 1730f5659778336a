"""The image projects' integration tests (`<project>/tests/integration`) against a real service on loopback.

The RC build runs them against the staging URL; here the service is the example project's own
server code on a loopback port, and a broken stand-in is the control they must fail on.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kit.loopback import reply, serving
from pipelines.core.catalog import image_projects

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "monorepo"
PROJECTS = [project.name for project in image_projects()]


def service_handler(project: str) -> type[BaseHTTPRequestHandler]:
    """The example project's own request handler, loaded from its source file."""
    (server,) = (EXAMPLE / project / "src").glob("*/server.py")
    spec = importlib.util.spec_from_file_location(f"staging_example_{project.replace('-', '_')}", server)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Handler


class Broken(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        reply(self, 503, b"{}", {"Content-Type": "application/json"})


def run_suite(project: str, url: str | None, report: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **({"STAGING_URL": url} if url is not None else {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLE / project / "tests" / "integration"), "-p", "no:cacheprovider",
         "--junitxml", str(report), "-q"],
        check=False, capture_output=True, text=True, timeout=120, env=env, cwd=report.parent,
    )  # fmt: skip


@pytest.mark.parametrize("project", PROJECTS)
def test_the_suite_passes_against_the_real_service_and_reports_junit(project, tmp_path):
    report = tmp_path / "report.xml"
    with serving(service_handler(project)) as url:
        result = run_suite(project, url, report)
    assert result.returncode == 0, result.stdout + result.stderr
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (int(suite.get("tests", 0)), int(suite.get("failures", 0)), int(suite.get("errors", 0))) == (2, 0, 0)


@pytest.mark.parametrize("project", PROJECTS)
def test_the_suite_fails_against_a_broken_service_or_without_a_url(project, tmp_path):
    with serving(Broken) as url:
        broken = run_suite(project, url, tmp_path / "broken.xml")
    assert broken.returncode == 1
    unset = run_suite(project, None, tmp_path / "unset.xml")
    assert unset.returncode == 1
    assert "STAGING_URL is not set" in unset.stdout
