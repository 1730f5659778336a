"""The one way tests find a headless browser: the first Chromium or Chrome on the PATH that runs.

The names and their order are `make system-deps`'s (BROWSERS in the Makefile; a test holds the two
equal): Debian's `chromium` here; on GitHub's Ubuntu runner, which has no Chromium package, the
runner image's own Chromium build or Google Chrome. A name that does not answer `--version` does not
count: Ubuntu's `chromium-browser` is a stub that only tells you to install the snap.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser(path: str | None = None) -> str | None:
    """The first of BROWSERS on `path` (the PATH when None) that answers `--version`, as a full path."""
    for name in BROWSERS:
        found = shutil.which(name, path=path)
        if found and subprocess.run([found, "--version"], capture_output=True, timeout=30, check=False).returncode == 0:
            return found
    return None


@cache
def browser() -> str:
    """The browser the tests drive. None found is a failure, not a skip: `make test` installs one."""
    found = find_browser()
    if found is None:
        raise RuntimeError(f"no headless browser on the PATH (tried {', '.join(BROWSERS)}): run `make system-deps`")
    return found
