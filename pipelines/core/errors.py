"""The project's own errors, one class per cause; exit codes are given to them in one place, `exit_code_of`.

Two families, because the CLI contract has two failure codes:
- `InputError` (exit 2): the user's input is wrong: a malformed tag, an unknown project,
  an option out of range, a file that is missing or does not parse.
- `CheckFailed` (exit 1): the input was fine, and something we checked said no. Its
  subclasses say why, so callers (and `--json` readers) can tell a refusal from an outage:
  `RuleRefused` (a release rule says no: a tag would move, versions disagree, a build is
  incomplete), `Unavailable` (a service kept failing or timing out; worth retrying later),
  `Unauthorized` (credentials missing, rejected or lacking a right), `NotFound` (the thing
  asked for is not there), `Corrupt` (data that contradicts itself: a digest mismatch, a reply
  that is not the documented shape).

Every error carries a message and, where we know one, a hint that names the fix. The CLI
prints both and never a traceback.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipelines raise on purpose."""

    cause = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class InputError(PipelineError):
    """Bad usage or input: a malformed tag, an unknown project, a missing or unreadable file."""

    cause = "bad-input"


class CheckFailed(PipelineError):
    """A check ran and said no. Raise one of the subclasses, which say why."""

    cause = "check-failed"


class RuleRefused(CheckFailed):
    """A release rule refuses: a tag would move, versions disagree, no complete build, a blocked version."""

    cause = "refused"


class Unavailable(CheckFailed):
    """A service kept failing, rate-limiting or timing out until our time or attempts ran out."""

    cause = "unavailable"


class Unauthorized(CheckFailed):
    """Credentials are missing, were rejected, or lack the right the operation needs."""

    cause = "unauthorized"


class NotFound(CheckFailed):
    """What was asked for does not exist: an image tag, a release, an Application, a file on an index."""

    cause = "not-found"


class Corrupt(CheckFailed):
    """Data contradicts itself or its contract: a digest mismatch, a reply not in the documented shape."""

    cause = "corrupt"


def exit_code_of(error: PipelineError) -> int:
    """The CLI contract: 2 for bad input, 1 for every failed check."""
    return 2 if isinstance(error, InputError) else 1
