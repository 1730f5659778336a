"""git with a fixed identity: the one way the tests, the demo and the benchmarks make commits and tags.

No user or system configuration is read (GIT_CONFIG_GLOBAL is the null device, GIT_CONFIG_NOSYSTEM set), so
a developer's signing, hooks or default branch never change what a test sees; author and committer are
`name <email>` (the author another one with `author`), dated `at` when given.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

NAME = "Test"
EMAIL = "test@example.invalid"


def environment(*, name: str = NAME, email: str = EMAIL, at: str | None = None) -> dict[str, str]:
    """This process's environment with no git configuration and that identity (and with `at`, that author and
    committer date, e.g. 2025-10-01T09:00:00+00:00): for git, or a command that runs git."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    if at is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = at
    return env


def git(
    cwd: Path,
    *args: str,
    at: str | None = None,
    name: str = NAME,
    email: str = EMAIL,
    author: tuple[str, str] | None = None,
    input: str | bytes | None = None,
) -> str:
    """Run git in `cwd` with that identity (`author`: another author's name and email) and `input` on its
    stdin; its stdout, stripped. A failure raises CalledProcessError."""
    env = environment(name=name, email=email, at=at)
    if author is not None:
        env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"] = author
    data = input.encode() if isinstance(input, str) else input
    result = subprocess.run(["git", *args], cwd=cwd, env=env, input=data, capture_output=True, check=True)
    return result.stdout.decode().strip()
