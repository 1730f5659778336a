"""The command line `python -m pipelines`: parsing, dispatch, and the exit-code contract.

Exit 0 on success, 1 when a check fails, 2 for bad usage or input; a user's
mistake prints `error: …` with a hint, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from pipelines.commands import calver, deploy, plan, promote, tag, trusted_publishers, versions, wait_healthy, wheels
from pipelines.errors import PipelineError
from pipelines.output import report_error

COMMAND_MODULES = (tag, versions, calver, plan, promote, wheels, deploy, wait_healthy, trusted_publishers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description="Build and release logic of the Percolate monorepo: tags, versions, CalVer image tags,\n"
        "plans, promotion of tested RC artifacts, stack-config write-back and rollback.",
        epilog="Exit codes: 0 success, 1 a check failed, 2 bad usage or input.\n"
        "Every command has --help and --json.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except PipelineError as error:
        report_error(error, getattr(args, "json", False))
        return error.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
