"""Every `python -m pipelines …` example in README.md and docs/*.md parses against the real CLI.

A guide whose command the CLI no longer takes (a renamed option, a command that moved) fails the reader
at the worst moment: in the middle of a release or an incident. So each example is taken from the docs
(code blocks, and inline code spans), split as a shell would split it (`shlex`: quotes, `\\` line
continuations, `$VARIABLES` and `"$STEM"` kept as words), cut at the first shell operator or comment,
and handed to `pipelines.cli.build_parser().parse_args`, the parser every run builds. Placeholders such
as TAG, FILE or X.Y.Z are ordinary words to argparse, so they pass; a placeholder given to an option
whose value the parser checks (`--staging-record "$RECORD"`, `--digest sha256:<index>`) stands for a
valid value (`TYPED`), as a run would give one. An unknown command or option, a missing required
option or a wrong choice fails. Synopses (`[--dry-run]`, `a|b`) are no examples; an inline mention of a
command alone (`python -m pipelines notify`) only has to name a command the CLI has.
The control: examples with an unknown option, an unknown command and a missing required option.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]*python -m pipelines[^`\n]*)`")
PROGRAM = "python -m pipelines"
OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&", "<<<"}
SYNOPSIS = re.compile(r"\[[-A-Z]|\w\|\w|…|\.\.\.")
PLACEHOLDER = re.compile(r"\$|<[^>]*>")
DIGEST = "sha256:" + "0" * 64
# Options whose values the parser checks, and a value of the kind a placeholder given to them stands for.
TYPED = {"--staging-record": DIGEST, "--digest": DIGEST, "--platform": f"amd64={DIGEST}"}


@dataclass(frozen=True)
class Example:
    source: str  # file:line
    text: str

    @property
    def words(self) -> list[str]:
        """The CLI's arguments: the words after `python -m pipelines`, up to the first operator or comment."""
        words = shlex.split(self.text[self.text.index(PROGRAM) :], comments=True)[3:]
        cut = next((i for i, word in enumerate(words) if word in OPERATORS or word.startswith((">", "2>"))), None)
        words = words[:cut]
        return [
            TYPED[before] if before in TYPED and PLACEHOLDER.search(word) else word
            for before, word in zip(["", *words], words, strict=False)
        ]

    @property
    def mention(self) -> bool:
        """Whether it only names a command, as prose does (`python -m pipelines notify`)."""
        return all(word in COMMAND_WORDS for word in self.words)


def _command_words() -> set[str]:
    """The name of every command and subcommand the CLI has, at every level."""
    import argparse

    names: set[str] = set()
    pending = [build_parser()]
    while pending:
        for action in pending.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                names |= set(action.choices)
                pending += list(action.choices.values())
    return names


COMMAND_WORDS = _command_words()


def _logical_lines(block: str, first_line: int) -> list[tuple[int, str]]:
    """The block's lines with `\\` continuations joined, each with the number of its first line."""
    lines, pending, start = [], "", first_line
    for number, line in enumerate(block.splitlines(), first_line):
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append((start, pending + line))
        pending = ""
    return lines


def examples_in(path: Path, text: str | None = None) -> list[Example]:
    """Every example of `python -m pipelines` in the Markdown file `path` (or in `text`, read as that file)."""
    text = path.read_text(encoding="utf-8") if text is None else text
    name = path.relative_to(REPO_ROOT)
    found: list[Example] = []
    fenced: list[tuple[int, int]] = []
    for block in FENCE.finditer(text):
        fenced.append(block.span())
        first = text.count("\n", 0, block.start(1)) + 1
        for number, line in _logical_lines(block.group(1), first):
            command = line.lstrip()
            command = command[2:] if command.startswith("$ ") else command
            if command.startswith(PROGRAM) and not SYNOPSIS.search(command):
                found.append(Example(f"{name}:{number}", command))
    for span in INLINE.finditer(text):
        if any(start <= span.start() < end for start, end in fenced):
            continue
        command = span.group(1)
        if command.startswith(PROGRAM) and not SYNOPSIS.search(command):
            found.append(Example(f"{name}:{text.count(chr(10), 0, span.start()) + 1}", command))
    return found


def parse_problem(example: Example) -> str | None:
    """None when the real parser takes the example; else what it said."""
    stderr = io.StringIO()
    try:
        words = example.words
    except ValueError as error:  # unbalanced quotes
        return f"does not split as a shell would: {error}"
    if example.mention:
        words = [*words, "--help"]  # a command named in prose: it must exist
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(words)
    except SystemExit as leaving:
        if leaving.code not in (0, None):  # --help exits 0
            return stderr.getvalue().strip().splitlines()[-1]
    return None


EXAMPLES = [example for path in SOURCES for example in examples_in(path)]


def test_the_docs_hold_examples():
    # README and the guides show the CLI in dozens of places; a broken extraction would find none.
    assert len(EXAMPLES) > 40
    assert {example.source.split(":")[0] for example in EXAMPLES} >= {"README.md", "docs/releasing.md"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.source for example in EXAMPLES])
def test_every_example_parses_against_the_real_cli(example):
    assert parse_problem(example) is None, f"{example.source}: {example.text}\n  {parse_problem(example)}"


@pytest.mark.parametrize(
    ("markdown", "said"),
    [
        ("```sh\npython -m pipelines promote percolate-v0.2.0 --stack-confg Pulumi.prod.yaml\n```\n", "unrecognized"),
        ("Run `python -m pipelines publish percolate-v0.2.0` to release.\n", "invalid choice"),
        ("```console\n$ python -m pipelines deploy-pr percolate 0.2.0 \\\n  --dry-run\n```\n", "--promotion"),
        ('```sh\npython -m pipelines staging record percolate --build "$STEM" --result maybe\n```\n', "invalid"),
        ("Run `python -m pipelines wheels publish` by hand.\n", "invalid choice"),
    ],
)
def test_control_a_broken_example_is_caught(markdown, said):
    (example,) = examples_in(REPO_ROOT / "docs" / "control.md", markdown)
    problem = parse_problem(example)
    assert problem is not None and said in problem, problem
