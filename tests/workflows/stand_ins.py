"""A workflow step's own script, run under bash with a stand-in `cosign` that records its arguments."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

COSIGN = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["COSIGN_CALLS"], "a") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\\n")
"""


def cosign_calls(script: str, folder: Path, env: Mapping[str, str]) -> list[list[str]]:
    """Run `script` as the runner does (bash -e) with `env`; the arguments of each `cosign` call, in order."""
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
    result = subprocess.run(["bash", "-e", "-c", script], env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in (folder / "calls").read_text().splitlines()]


def option(call: list[str], name: str) -> str:
    """The value given to option `name` in one recorded call."""
    return call[call.index(name) + 1]
