"""The command line `python -m pipelines`: parsing, dispatch, and the exit-code contract.

Exit 0 on success, 1 when a check fails, 2 for bad usage or input; a user's
mistake prints `error: …` with a hint, never a traceback.

Every workflow step starts a fresh process, so only the module of the command
being run is imported; the full parser (every module) is built for the top-level
help and for anything that is not a known command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from pipelines.core.errors import InputError, PipelineError
from pipelines.output import guarded_output, report_error

# Each command, in the order `--help` lists them, and the module under pipelines.commands that registers it.
COMMANDS: dict[str, str] = {
    "tag": "tag",
    "versions": "versions",
    "calver": "calver",
    "plan": "plan",
    "build-metadata": "build_metadata",
    "build-index": "build_index",
    "staging": "staging",
    "promote": "promote",
    "wheels": "wheels",
    "stack-config": "stack_config",
    "deploy-pr": "deploy_pr",
    "rollback": "rollback",
    "wait-healthy": "wait_healthy",
    "trusted-publishers": "trusted_publishers",
    "preflight": "preflight",
    "changelog": "changelog",
    "notify": "notify",
    "dashboard": "dashboard",
    "bench": "bench",
}


class _JsonParser(argparse.ArgumentParser):
    """The parser when `--json` is asked for: a usage error is bad input like any other, reported by `main` as
    one JSON document on stdout (argparse's usage still on stderr), not argparse's exit with text alone.
    Subcommand parsers are of the class of their parent, so every level reports this way."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise InputError(message, hint=f"`{self.prog} --help` lists the arguments")


def build_parser(command: str | None = None, *, json_errors: bool = False) -> argparse.ArgumentParser:
    """The parser of every command, or only of `command`'s module when it is a known command; with
    `json_errors`, its usage errors raise `InputError` instead of exiting."""
    parser = (_JsonParser if json_errors else argparse.ArgumentParser)(
        prog="python -m pipelines",
        description="Build and release logic of the Percolate monorepo: tags, versions, CalVer image tags,\n"
        "plans, promotion of tested RC artifacts, stack-config write-back and rollback.",
        epilog="Exit codes: 0 success, 1 a check failed, 2 bad usage or input.\nEvery command has --help and --json.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(modules):
        importlib.import_module(f"pipelines.commands.{name}").register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; everything it prints, usage errors and a bug's traceback included, passes the output
    boundary (a traceback can quote what a server sent)."""
    with guarded_output():
        try:
            return _run(list(sys.argv[1:] if argv is None else argv))
        except Exception:
            import traceback

            traceback.print_exc()
            print(
                "error: an unexpected failure, a bug in pipelines: please report the traceback above", file=sys.stderr
            )
            return 1


def _run(arguments: list[str]) -> int:
    as_json = "--json" in arguments
    try:
        args = build_parser(arguments[0] if arguments else None, json_errors=as_json).parse_args(arguments)
    except InputError as error:  # a usage error under --json (`_JsonParser`)
        return report_error(error, as_json)
    try:
        code = int(args.handler(args))
        sys.stdout.flush()  # here, not at exit: a reader that went away is handled below
        return code
    except PipelineError as error:
        return report_error(error, getattr(args, "json", False))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped early (`| head`): exit quietly, as command-line tools do. Output still
        # buffered goes to /dev/null, so Python's flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
