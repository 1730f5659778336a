"""The command line `python -m pipelines`: parsing, dispatch, and the exit-code contract.

Exit 0 on success, 1 when a check fails, 2 for bad usage or input; a user's
mistake prints `error: …` with a hint, never a traceback.

Every workflow step starts a fresh process, so only the module of the command
being run is imported; the full parser (every module) is built for the top-level
help and for anything that is not a known command. `tag parse TAG [--json]`, with
which every workflow run starts, is read without argparse (`_tag_parse`): any other
shape of it goes through argparse as every command does.
"""

from __future__ import annotations

import importlib
import os
import sys

from pipelines.core.errors import InputError, PipelineError
from pipelines.output import guarded_output, report_error

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `tag parse` starts fast
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import NoReturn

    from pipelines.commands.tag import TagParseRequest

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


def _parser_class(json_errors: bool) -> type[argparse.ArgumentParser]:
    """argparse's parser, or with `json_errors` one whose usage error is bad input like any other, reported by
    `main` as one JSON document on stdout (argparse's usage still on stderr), not argparse's exit with text
    alone. Subcommand parsers are of the class of their parent, so every level reports this way."""
    import argparse

    if not json_errors:
        return argparse.ArgumentParser

    class JsonParser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            self.print_usage(sys.stderr)
            raise InputError(message, hint=f"`{self.prog} --help` lists the arguments")

    return JsonParser


def build_parser(command: str | None = None, *, json_errors: bool = False) -> argparse.ArgumentParser:
    """The parser of every command, or only of `command`'s module when it is a known command; with
    `json_errors`, its usage errors raise `InputError` instead of exiting."""
    from pipelines.commands.arguments import HelpFormatter

    parser = _parser_class(json_errors)(
        prog="python -m pipelines",
        description="Build and release logic of the Percolate monorepo: tags, versions, CalVer image tags,\n"
        "plans, promotion of tested RC artifacts, stack-config write-back and rollback.",
        epilog="Exit codes: 0 success, 1 a check failed, 2 bad usage or input.\nEvery command has --help and --json.",
        formatter_class=HelpFormatter,
    )
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for name in dict.fromkeys(modules):
        importlib.import_module(f"pipelines.commands.{name}").register(subcommands)
    return parser


def _tag_parse(arguments: list[str]) -> TagParseRequest | None:
    """The request of `tag parse TAG`, `tag parse TAG --json` or `tag parse --json TAG` with a TAG that does not
    start with `-`, read as argparse reads them; None for anything else, which argparse reads."""
    if len(arguments) not in (3, 4) or arguments[:2] != ["tag", "parse"]:
        return None
    rest = arguments[2:]
    tags = [word for word in rest if word != "--json"]
    if len(tags) != 1 or tags[0].startswith("-"):
        return None
    from pipelines.commands.tag import TagParseRequest

    return TagParseRequest(tags[0], json=len(rest) == 2)


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
    run: Callable[[], int]
    request = _tag_parse(arguments)
    if request is not None:
        from pipelines.commands.tag import run_parse

        run, as_json = (lambda: run_parse(request)), request.json
    else:
        as_json = "--json" in arguments
        try:
            args = build_parser(arguments[0] if arguments else None, json_errors=as_json).parse_args(arguments)
        except InputError as error:  # a usage error under --json (`_parser_class`)
            return report_error(error, as_json)
        run, as_json = (lambda: args.handler(args)), getattr(args, "json", False)
    try:
        code = int(run())
        sys.stdout.flush()  # here, not at exit: a reader that went away is handled below
        return code
    except PipelineError as error:
        return report_error(error, as_json)
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
