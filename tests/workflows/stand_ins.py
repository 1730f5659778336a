"""A workflow step's own script run as GitHub runs a bash step, and a stand-in `cosign` that records its arguments."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

# GitHub's default shell for a `run:` step on Linux: `bash --noprofile --norc -eo pipefail {0}`.
STEP_SHELL = ("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c")


def run_as_step(
    script: str, env: Mapping[str, str], *, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`script` run as the runner runs a bash step, with exactly `env` as its environment (output captured)."""
    return subprocess.run(
        [*STEP_SHELL, script], env=dict(env), cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )


COSIGN = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["COSIGN_CALLS"], "a") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def cosign_calls(script: str, folder: Path, env: Mapping[str, str]) -> list[list[str]]:
    """Run `script` as the runner does with `env`; the arguments of each `cosign` call, in order."""
    (folder / "bin").mkdir()
    cosign = folder / "bin" / "cosign"
    cosign.write_text(COSIGN)
    cosign.chmod(0o755)
    environment = {
        "PATH": f"{folder / 'bin'}:{os.environ['PATH']}",
        "COSIGN_CALLS": str(folder / "calls"),
        "GITHUB_STEP_SUMMARY": str(folder / "summary"),
        "GITHUB_SERVER_URL": "https://github.com",
        **env,
    }
    result = run_as_step(script, environment)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in (folder / "calls").read_text().splitlines()]


def option(call: list[str], name: str) -> str:
    """The value given to option `name` in one recorded call."""
    return call[call.index(name) + 1]
