"""How commands speak: readable text or `--json` on stdout, progress and errors on stderr, and, inside
GitHub Actions, step outputs and a job summary; and the output boundary every printed byte passes.

The boundary (`guarded_output`, which the CLI's `main` wraps around each command) replaces stdout and
stderr with a `GuardedStream`: each complete line is redacted of every secret the process knows
(`pipelines.core.secrets`) and then neutralised (`pipelines.core.untrusted`: control characters shown
as escapes, no workflow command), before it reaches the real stream. Step outputs and the job summary
are redacted on their way into their files. A workflow command the CLI means to send goes through
`workflow_command`, which escapes its message as the runner expects.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock  # threading's Lock without importing threading: `tag parse` starts fast
from collections.abc import Mapping

from pipelines.core.errors import InputError, PipelineError, exit_code_of
from pipelines.core.secrets import command_secrets, redact
from pipelines.core.untrusted import neutralise

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `tag parse` starts fast
if TYPE_CHECKING:
    from typing import Any, TextIO


class GuardedStream:
    """A text stream that passes only redacted, neutralised whole lines to `target`.

    Lines are held until their end arrives, so a secret written in two pieces is still seen whole;
    what is left without a line break is written by `close_out` (at the end of the command).
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._pending: list[str] = []  # pieces of the line not yet ended, joined once its end arrives
        self._lock = allocate_lock()

    def write(self, text: str) -> int:
        with self._lock:
            head, newline, rest = text.rpartition("\n")
            if not newline:
                self._pending.append(text)
                return len(text)
            lines = "".join([*self._pending, head, newline])
            self._pending = [rest] if rest else []
            self.target.write(neutralise(redact(lines)))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def close_out(self) -> None:
        """Write what is held back (a last line without a line break) and flush."""
        with self._lock:
            rest, self._pending = "".join(self._pending), []
            if rest:
                self.target.write(neutralise(redact(rest)))
        self.target.flush()

    def raw_line(self, line: str) -> None:
        """A line the CLI composed as a workflow command: redacted, not neutralised (see `workflow_command`)."""
        with self._lock:
            self.target.write(redact(line) + "\n")
            self.target.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding: the real stream's
        return getattr(self.target, name)


class guarded_output:
    """stdout and stderr through the boundary for the duration of a command, with the command's own secrets;
    the real streams are back afterwards."""

    def __enter__(self) -> None:
        self._secrets = command_secrets()
        self._secrets.__enter__()
        self._real = sys.stdout, sys.stderr
        self._guarded = GuardedStream(sys.stdout), GuardedStream(sys.stderr)
        sys.stdout, sys.stderr = self._guarded

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self._real
        try:
            for stream in self._guarded:
                try:
                    stream.close_out()
                except (BrokenPipeError, ValueError):  # the reader went away, or the stream was closed
                    continue
        finally:
            self._secrets.__exit__()


def workflow_command(command: str, message: str, **properties: str) -> None:
    """`::command prop=value::message` on stderr, escaped as GitHub's toolkit escapes it: the message and the
    properties cannot end the line early or start another command."""

    def escape(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    props = ",".join(
        f"{name}={escape(value).replace(':', '%3A').replace(',', '%2C')}" for name, value in properties.items()
    )
    line = f"::{command}{' ' + props if props else ''}::{escape(neutralise(message))}"
    stream = sys.stderr
    if isinstance(stream, GuardedStream):
        stream.raw_line(line)
    else:
        print(redact(line), file=stream, flush=True)


def emit(as_json: bool, data: Any, text: str) -> None:
    """Print `data` as JSON for machines, or `text` for people."""
    if not as_json:
        print(text)
        return
    import json  # only --json pays for it

    print(json.dumps(redacted(data), indent=2, sort_keys=False))


def redacted(data: Any) -> Any:
    """`data` with every string in it redacted, before it is serialised: a mask never cuts a JSON escape."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, Mapping):
        return {redacted(key): redacted(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [redacted(value) for value in data]
    return data


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
        print(json.dumps(redacted(fields), indent=2))
    return code


def _append(variable: str, text: str) -> None:
    path = os.environ.get(variable)
    if path:
        # One write of the whole block: the runner reads these files after the step, never a half-line.
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(redact(text))


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
