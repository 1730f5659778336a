"""The last step of `make demo`: the release dashboard of the demo's own history.

The rollback the demo just made is merged (here: committed), then `python -m pipelines dashboard`
reads the temp monorepo's tags and the history of its Pulumi.prod.yaml and writes the page to
build/demo-dashboard/ (or $DEMO_DASHBOARD_DIR), which outlives the temp monorepo.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_dashboard(root: Path, git: Callable[..., str], run: Callable[..., str]) -> Path:
    """Commit the rollback in `root`, write its dashboard, print and return the page's path."""
    out = Path(os.environ.get("DEMO_DASHBOARD_DIR") or REPO_ROOT / "build" / "demo-dashboard").resolve()
    git(root, "commit", "-qam", "rollback: percolate 0.2.0 -> 0.1.0")
    print("the rollback pull request is merged (here: committed)")
    run(root, "pipelines", "dashboard", "--out", str(out))
    index = out / "index.html"
    print(f"\nthe release dashboard of this history: {index}")
    return index
