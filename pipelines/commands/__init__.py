"""The CLI's commands, one module per command group, and what they share.

Each module has `register(subcommands)`, which adds its parsers and sets
`handler` to a function taking the parsed arguments and returning the exit code.
Modules import heavy libraries (HTTP, Pulumi, TOML writers, git) inside their handlers only, so
that `tag parse` starts fast.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipelines.core.catalog import DEFAULT_REGISTRY
from pipelines.core.errors import InputError

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from pipelines.edges.git import Git
    from pipelines.images.registry.client import RegistryClient

Handler = Callable[[argparse.Namespace], int]


def add_command(
    subcommands: Any, name: str, *, summary: str, description: str, handler: Handler, examples: str = ""
) -> argparse.ArgumentParser:
    """Add a leaf command with `--help` text, examples and `--json`."""
    parser: argparse.ArgumentParser = subcommands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"examples:\n{examples}" if examples else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    parser.set_defaults(handler=handler)
    return parser


def add_group(subcommands: Any, name: str, *, summary: str) -> Any:
    """Add a command group (`tag`, `versions`) whose subcommands are required."""
    parser = subcommands.add_parser(name, help=summary, description=summary)
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


def open_registry(registry: str, *, push: bool, max_time: float, say: Callable[[str], None]) -> RegistryClient:
    """A client of --registry with the credentials the environment gives (said on stderr, never shown)."""
    from pipelines.images.registry.connect import connect

    return connect(registry, push=push, max_time=max_time, say=say)


def check_root(root: Path | None) -> None:
    """--root, when given, must be a folder (checked before any git or network call)."""
    if root is not None and not root.is_dir():
        raise InputError(f"--root {root} is not a folder", hint="pass the monorepo's root folder")


def resolve_root(args: argparse.Namespace) -> Path:
    """--root when given (it must be a folder), else the git top level of the working directory."""
    from pipelines.edges.git import Git

    if args.root is None:
        return Git.toplevel().root
    check_root(args.root)
    root: Path = args.root
    return root.resolve()


def optional_checkout(root: Path | None) -> Git | None:
    """The checkout at --root or around the working directory, or None outside any (checks that need git skip)."""
    from pipelines.edges.git import Git

    check_root(root)
    try:
        return Git.toplevel(root)
    except InputError:
        return None


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


def now() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def environment(name: str) -> str | None:
    """A non-empty environment variable, or None."""
    return os.environ.get(name) or None


def actions_run_url() -> str | None:
    """This GitHub Actions run's page, from the variables every job has; None outside Actions."""
    server, repository, run = (environment(n) for n in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repository}/actions/runs/{run}" if server and repository and run else None
