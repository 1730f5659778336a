"""What the commands' parsers share: adding a command and its typed request, the shared options, and the
argparse types of their values.

A command declares a frozen dataclass request whose fields are its arguments' destinations (`json`
included); `add_command` sets the parser's `handler` to a `Dispatch`, which turns the parsed
`argparse.Namespace` into that request at the edge and calls the command's `run` with it. Nothing past
this edge sees a Namespace. `tag`'s requests are core `Value`s instead (`pipelines.core.values`): the
command every workflow run starts with never loads dataclasses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pipelines.core.catalog import DEFAULT_REGISTRY
from pipelines.core.values import Value

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from _typeshed import DataclassInstance

Request = TypeVar("Request", bound="DataclassInstance | Value")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter (descriptions and epilogs as written), told the terminal's width instead of asking
    `shutil`: argparse makes one for every argument it adds, and `import shutil` (with zlib, bz2 and lzma) is
    over a millisecond of every command's start. The width is found as shutil finds it: COLUMNS, else the
    terminal of stdout, else 80."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


def _columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout, or not a terminal
        return 80


class Dispatch(Generic[Request]):
    """A parser's `handler`: the parsed arguments as the command's `request`, passed to its `run`."""

    def __init__(self, request: type[Request], run: Callable[[Request], int]) -> None:
        self.request = request
        self.run = run

    def __call__(self, args: argparse.Namespace) -> int:
        return self.run(request_of(self.request, args))


def request_of(request: type[Request], args: argparse.Namespace) -> Request:
    """The fields of `request`, each taken from the parsed argument of the same name."""
    return request(**{name: getattr(args, name) for name in field_names(request)})


def field_names(request: type[Any]) -> tuple[str, ...]:
    """The fields of a request, in order: a dataclass's, or a `Value`'s."""
    if issubclass(request, Value):
        return request._value_fields
    from dataclasses import fields  # only for a dataclass request, whose module loaded dataclasses already

    return tuple(field.name for field in fields(request))


def add_command(
    subcommands: Any,
    name: str,
    *,
    summary: str,
    description: str,
    request: type[Request],
    run: Callable[[Request], int],
    examples: str = "",
) -> argparse.ArgumentParser:
    """Add a leaf command with `--help` text, examples and `--json`, run as `run(request)`."""
    parser: argparse.ArgumentParser = subcommands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"examples:\n{examples}" if examples else None,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    parser.set_defaults(handler=Dispatch(request, run))
    return parser


def add_group(subcommands: Any, name: str, *, summary: str) -> Any:
    """Add a command group (`tag`, `versions`) whose subcommands are required."""
    parser = subcommands.add_parser(name, help=summary, description=summary, formatter_class=HelpFormatter)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)


def add_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=path_argument,
        metavar="DIR",
        help="the monorepo's root (default: the git top level of the working directory)",
    )


def add_registry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        default=DEFAULT_REGISTRY,
        metavar="HOST[:PORT]/NAMESPACE",
        help=f"the registry and namespace of the images (default: {DEFAULT_REGISTRY}); plain HTTP only for loopback",
    )


def add_max_time_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-time",
        type=positive_seconds,
        default=300.0,
        metavar="SECONDS",
        help="give up on the registry after this long, retries included (default 300)",
    )


def path_argument(text: str) -> Path:
    """An argparse type: a file or folder path (pathlib is imported only by the commands that take one)."""
    from pathlib import Path

    return Path(text)


def timestamp(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with a zone, e.g. 2025-10-25T14:30:00Z."""
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time (e.g. 2025-10-25T14:30:00Z)") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z for UTC (e.g. 2025-10-25T14:30:00Z)")
    return value


def digest_argument(text: str) -> str:
    """An argparse type: `sha256:` and 64 lower-case hex digits."""
    from pipelines.core.digests import DIGEST_FORM, is_digest

    if not is_digest(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a digest ({DIGEST_FORM})")
    return text


def positive_seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)
