"""`make demo`'s staging scene (examples/demo_staging.py, scene 12 of the demo run the suite shares): RC -> build
index -> staging pin -> health gate and integration tests -> refused release -> record -> release with the staging
digest."""

from __future__ import annotations

import re

DIGEST = r"sha256:[0-9a-f]{64}"


def _section(out: str, number: int) -> str:
    return out.split(f"=== {number}. ", 1)[1].split("\n=== ", 1)[0]


def test_the_staging_scene_releases_exactly_what_staging_ran(demo_run):
    assert demo_run.returncode == 0, demo_run.stdout[-3000:] + demo_run.stderr[-3000:]
    out = _section(demo_run.stdout, 12)
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
    assert list(demo_run.temp.iterdir()) == []  # the temp monorepo and the registry's storage are gone
