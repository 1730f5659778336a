"""`make demo`'s staging scene (examples/demo_staging.py), run on its own: RC -> build index -> staging pin ->
health gate and integration tests -> refused release -> record -> release with the staging digest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST = r"sha256:[0-9a-f]{64}"


def test_the_staging_scene_releases_exactly_what_staging_ran(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "demo_staging.py")],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    (index,) = re.findall(
        rf"wrote the build index \S+:2025\.11\.27\.1015-build\.\d+-v0\.3\.0-\w+, digest ({DIGEST})", out
    )
    assert f"staging pins percolate-api-staging to {index}" in out
    assert re.search(r"Application percolate-reading-staging +pins \(nothing", out)  # no build with an index
    assert "is Synced and Healthy with " + index in out
    assert re.search(r"\n2 passed", out)  # the integration tests, against the stand-in service
    refused, recorded = out.index("release refused before the record"), out.index("staging record sha256:")
    assert refused < recorded
    (released,) = re.findall(rf"released percolate:0\.3\.0 index ({DIGEST}) \(skopeo\); staging ran ({DIGEST})", out)
    assert released == (index, index)
    assert "the released index digest equals the staging digest" in out
    assert list(tmp_path.iterdir()) == []  # the temp monorepo and the registry's storage are gone
