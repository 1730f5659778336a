"""How commands speak: readable text or `--json` on stdout, progress and errors on stderr, and, inside
GitHub Actions, step outputs and a job summary."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from pipelines.core.errors import InputError, PipelineError, exit_code_of


def emit(as_json: bool, data: Any, text: str) -> None:
    """Print `data` as JSON for machines, or `text` for people."""
    if not as_json:
        print(text)
        return
    import json  # only --json pays for it

    print(json.dumps(data, indent=2, sort_keys=False))


def progress(message: str) -> None:
    """A line of progress for people watching long work; never on stdout, so `--json` stays clean."""
    print(message, file=sys.stderr, flush=True)


def report_error(error: PipelineError, as_json: bool) -> int:
    """Print `error` (and with --json its fields on stdout); returns the exit code the contract gives it."""
    code = exit_code_of(error)
    print(f"error: {error}", file=sys.stderr)
    if as_json:
        import json

        fields = {"error": error.message, "hint": error.hint, "cause": error.cause, "exit_code": code}
        print(json.dumps(fields, indent=2))
    return code


def _append(variable: str, text: str) -> None:
    path = os.environ.get(variable)
    if path:
        # One write of the whole block: the runner reads these files after the step, never a half-line.
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def output_entry(key: str, value: str) -> str:
    """One step output in GITHUB_OUTPUT's syntax: `key=value`, or the delimiter form for a value with a line break.

    Written as `key=value`, a value holding a newline would end the entry early and let the rest of it
    set other outputs; the delimiter form (`key<<DELIMITER`, the lines, `DELIMITER`) uses a random
    delimiter that the value does not contain, as GitHub's own toolkit does.
    """
    if not key or any(c in key for c in "=<\r\n"):
        raise ValueError(f"step output name {key!r} is not a plain name")
    bad = sorted({f"U+{ord(c):04X}" for c in value if (ord(c) < 0x20 and c not in "\t\r\n") or ord(c) == 0x7F})
    if bad:
        raise InputError(
            f"the value of step output {key} holds control characters ({', '.join(bad)}); nothing was written",
            hint="check the input it came from (a tag, --sha, a file) for stray bytes",
        )
    if "\n" not in value and "\r" not in value:
        return f"{key}={value}\n"
    delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
    while delimiter in value:
        delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
    return f"{key}<<{delimiter}\n{value}\n{delimiter}\n"


def actions_outputs(outputs: Mapping[str, str], summary: str | None = None) -> None:
    """Inside Actions: `outputs` as step outputs (GITHUB_OUTPUT) and `summary` as Markdown for the job
    summary (GITHUB_STEP_SUMMARY). Elsewhere nothing."""
    _append("GITHUB_OUTPUT", "".join(output_entry(key, value) for key, value in outputs.items()))
    if summary:
        _append("GITHUB_STEP_SUMMARY", summary)
