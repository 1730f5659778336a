"""`make demo` end to end: the whole flow offline, and nothing left running or behind."""

from __future__ import annotations

import re
import subprocess


def test_the_demo_releases_pins_fails_the_gate_and_rolls_back(demo_run):
    result, tmp_path = demo_run, demo_run.temp
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    pins = dict(re.findall(r"Application (\S+) +pins (\S+)", out)[:2])
    assert set(pins) == {"percolate-api", "percolate-reading"}
    assert all("127.0.0.1:" in image and "@sha256:" in image for image in pins.values())
    assert "percolate-api FAILED" in out
    assert "rolled back percolate 0.2.0 -> 0.1.0" in out
    rolled_back = dict(re.findall(r"Application (\S+) +pins (\S+)", out)[2:])
    assert rolled_back["percolate-api"].startswith("ghcr.io/percolation-labs/percolate@sha256:")
    assert rolled_back["percolate-reading"] == pins["percolate-reading"]
    assert "percolate 0.2.0 is blocked" in out
    assert out.rstrip().splitlines()[-3] == f"the release dashboard of this history: {demo_run.site / 'index.html'}"
    page = (demo_run.site / "index.html").read_text()
    assert '<tr data-project="percolate"><th scope="row">percolate</th><td><span class="prod-version">0.3.0' in page
    # Deploys of percolate: 0.2.0 (rolled back: a failed change), the rollback to 0.1.0, 0.3.0 through staging.
    assert '<td class="dora-failure-rate">33% (1 of 3)</td>' in page
    # Staging, from the record the demo wrote.
    assert re.search(r"build\.123-v0\.3\.0-[0-9a-f]{7}</code>: <span class=\"passed\">passed</span>", page)
    assert list(tmp_path.iterdir()) == []  # the temp monorepo and the registry's storage are gone
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert str(tmp_path) not in processes  # the registry (configured under the temp folder) was stopped
