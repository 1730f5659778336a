"""A thin edge over the `git` command: the checkout's root, its tags and commits.

The rules never import this module; commands read git through it and hand plain
values (tag names, SHAs) to the rules.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipelines.errors import InputError


class Git:
    """Read-only queries against the git repository at `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def toplevel(cls, start: Path | None = None) -> Git:
        """The repository containing `start` (default: the working directory)."""
        where = start or Path.cwd()
        try:
            result = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"], cwd=where, capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            raise InputError("git is not installed", hint="install git, or pass --root DIR") from None
        if result.returncode != 0:
            raise InputError(f"{where} is not inside a git checkout", hint="run from the monorepo, or pass --root DIR")
        return cls(Path(result.stdout.strip()))

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, check=False)

    def tags(self) -> list[str]:
        """Every tag name of the repository (fetch tags first in CI: a shallow clone has none)."""
        result = self._run("tag", "--list")
        if result.returncode != 0:
            raise InputError(f"cannot list git tags in {self.root}: {result.stderr.strip()}", hint="pass --root DIR")
        return result.stdout.split()

    def commit_of(self, ref: str) -> str | None:
        """The full SHA of the commit `ref` points at (through annotated tags), or None when unknown."""
        result = self._run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
        return result.stdout.strip() if result.returncode == 0 else None
