"""The project's own errors, each carrying the exit code the CLI contract gives it.

A user's mistake (bad tag, bad option, unreadable file) is an `InputError` (exit 2);
a check that ran and found a problem is a `CheckFailed` (exit 1). The CLI prints the
message and exits with the code; nothing else reaches the user as a traceback.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipelines raise on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InputError(PipelineError):
    """Bad usage or input: a malformed tag, an unknown project, a missing file (exit 2)."""

    exit_code = 2


class CheckFailed(PipelineError):
    """A check ran and failed: versions disagree, a build is incomplete (exit 1)."""

    exit_code = 1
