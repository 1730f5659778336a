"""How commands speak: readable text or `--json` on stdout, progress and errors on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from pipelines.errors import PipelineError


def emit(as_json: bool, data: Any, text: str) -> None:
    """Print `data` as JSON for machines, or `text` for people."""
    print(json.dumps(data, indent=2, sort_keys=False) if as_json else text)


def progress(message: str) -> None:
    """A line of progress for people watching long work; never on stdout, so `--json` stays clean."""
    print(message, file=sys.stderr, flush=True)


def report_error(error: PipelineError, as_json: bool) -> None:
    print(f"error: {error}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": error.message, "hint": error.hint, "exit_code": error.exit_code}, indent=2))
