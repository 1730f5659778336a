"""GitHub's own workflow parser (npm `@actions/workflow-parser`, in tests/workflows/parser/), driven from Python.

One node process answers every request of a session: `parse.mjs` reads a JSON object of repository
path -> file text per line and writes back path -> the errors GitHub's parser reports for that file.
`make test` installs the pinned package and patches it for node (`make workflow-parser`); without that
the parser fails to start with a message that says so, rather than the tests being skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

PARSER_DIR = Path(__file__).parent / "parser"
# Written by the Makefile once `npm ci` and the import patch have both run.
INSTALLED = PARSER_DIR / "node_modules" / ".installed"


class GithubParser:
    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not INSTALLED.exists():
            raise RuntimeError("GitHub's workflow parser is not installed: run `make workflow-parser` (make test does)")
        self.process = subprocess.Popen(
            [node, str(PARSER_DIR / "parse.mjs")],
            cwd=PARSER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def errors(self, files: Mapping[str, str]) -> dict[str, list[str]]:
        """The parser's errors for each file of `files` (repository path -> text), which holds every local
        reusable workflow they call."""
        assert self.process.stdin and self.process.stdout and self.process.stderr
        self.process.stdin.write(json.dumps(dict(files)) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the workflow parser stopped: {self.process.stderr.read()}")
        return dict(json.loads(answer))

    def close(self) -> None:
        """End of input ends the process; communicate() also closes the pipes."""
        self.process.communicate(timeout=30)
