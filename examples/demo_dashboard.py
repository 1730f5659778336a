"""The last step of `make demo`: the release dashboard of the demo's own history.

`python -m pipelines dashboard` reads the temp monorepo's tags, the history of its Pulumi.prod.yaml
(releases, rollbacks, blocked versions) and the staging record the demo wrote, and writes the page to
build/demo-dashboard/ (or $DEMO_DASHBOARD_DIR), which outlives the temp monorepo.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_dashboard(root: Path, run: Callable[..., str], records: Path) -> Path:
    """Write the dashboard of `root`'s history and the `records` folder; print and return the page's path."""
    out = Path(os.environ.get("DEMO_DASHBOARD_DIR") or REPO_ROOT / "build" / "demo-dashboard").resolve()
    run(root, "pipelines", "dashboard", "--out", str(out), "--data", str(records))
    index = out / "index.html"
    print(f"\nthe release dashboard of this history: {index}")
    return index
