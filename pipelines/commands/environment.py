"""What a command reads of the world besides its arguments: the clock and the environment."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


def now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def environment(name: str) -> str | None:
    """A non-empty environment variable, or None."""
    return os.environ.get(name) or None


def actions_run_url() -> str | None:
    """This GitHub Actions run's page, from the variables every job has; None outside Actions."""
    server, repository, run = (environment(n) for n in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run}" if server and repository and run else None
