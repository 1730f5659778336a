"""The output boundary: whatever a command prints is redacted of the process's secrets and neutralised
(no control character, no workflow command the CLI did not mean), on stdout, stderr, --json, step outputs
and the job summary."""

from __future__ import annotations

import io
import json
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.secrets import WINDOW, command_secrets
from pipelines.core.untrusted import neutralise
from pipelines.output import GuardedStream, actions_outputs, emit, guarded_output, workflow_command

TOKEN = "ghs_Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0"


@pytest.fixture
def known_token(monkeypatch):
    """A process whose environment holds TOKEN."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return TOKEN


def runs_of(secret: str) -> list[str]:
    return [secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)]


def commands_in(log: str) -> list[str]:
    """The lines GitHub's runner would take as workflow commands (`::` after blanks, or `##[` anywhere)."""
    return [line for line in log.split("\n") if line.lstrip().startswith("::") or "##[" in line]


@given(st.text())
def test_neutralised_text_has_no_control_character_and_no_workflow_command(text):
    safe = neutralise(text)

    assert all(c in "\n\t" or unicodedata.category(c) not in ("Cc", "Zl", "Zp") for c in safe)
    assert commands_in(safe) == []


def escaped(char: str) -> str:
    """The rule, one character at a time: line breaks and tabs stay, and so does every other character but the
    control, format, separator, surrogate, private-use and unassigned ones, which are shown as escapes."""
    if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def test_every_character_is_escaped_by_the_rule_alone_or_among_lines():
    """Text kept whole (nothing in it to escape, line breaks and tabs allowed) and text escaped character by
    character agree with the rule: every code point of the BMP, and one in 61 beyond (tag characters, private
    use planes, unassigned ones)."""
    chars = [chr(code) for code in [*range(0x10000), *range(0x10000, sys.maxunicode + 1, 61), 0xE0001, 0x10FFFF]]
    rule = [(char, escaped(char)) for char in chars]
    kept = [char for char, seen in rule if seen == char]
    shown = [char for char, seen in rule if seen != char]
    assert neutralise("\t".join(kept) + "\n") == "\t".join(kept) + "\n"
    assert neutralise("\n".join(shown)) == "\n".join(escaped(char) for char in shown)
    for char in chars[:0x100]:
        assert neutralise(f"a{char}\n") == f"a{escaped(char)}\n"


@given(st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn"))))
def test_printable_text_is_left_as_it_is(text):
    if "::" not in text and "##[" not in text:
        assert neutralise(text) == text


def test_what_a_registry_or_git_could_plant_is_shown_as_escapes():
    planted = "https://x/run\r\n::error title=x::release refused\x1b[2J\u202egnp.exe ##[set-output name=a]b"

    safe = neutralise(planted)

    assert safe.startswith("https://x/run\\x0d\n\\::error title=x::release refused\\x1b[2J\\u202egnp.exe")
    assert "# #[set-output" in safe and commands_in(safe) == []


def test_a_secret_written_in_pieces_is_redacted_whole(known_token):
    target = io.StringIO()
    stream = GuardedStream(target)

    with command_secrets():
        stream.write(f"echoed: {known_token[:13]}")
        stream.write(f"{known_token[13:]} and more\nnext line, no break")
        held = target.getvalue()
        stream.close_out()

    assert held == "echoed: *** and more\n"
    assert target.getvalue() == "echoed: *** and more\nnext line, no break"


def test_everything_a_command_prints_passes_the_boundary(known_token, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))
    cut = known_token[5:27]  # a server's answer cut to length, mid-token, on both sides
    with guarded_output():
        print(f"from the registry: {cut}\n::error::planted\x1b[2J")
        print(f"progress {known_token}", file=sys.stderr)
        emit(True, {"echo": f'he said "{known_token}"', "cut": cut}, "")
        actions_outputs({"answer": f"x {cut}"}, summary=f"| `{known_token}` |\n")
        workflow_command("warning", f"not sent: {cut}\n::error::more", title="a, b: c")
    out, err = capsys.readouterr()
    files = (tmp_path / "output").read_text() + (tmp_path / "summary").read_text()

    for shown in (out, err, files):
        assert not [run for run in runs_of(known_token) if run in shown]
    assert "\\::error::planted\\x1b[2J" in out
    document = json.loads(out[out.index("{") :])
    assert document == {"echo": 'he said "***"', "cut": "***"}
    assert commands_in(out) == []
    # The one command the CLI meant: escaped as the runner expects, nothing after it a command of its own.
    assert commands_in(err) == ["::warning title=a%2C b%3A c::not sent: ***%0A\\::error::more"]


def test_the_real_streams_are_back_after_a_command(capsys):
    before = sys.stdout, sys.stderr
    with pytest.raises(SystemExit), guarded_output():
        raise SystemExit(2)
    assert (sys.stdout, sys.stderr) == before


def test_a_bugs_traceback_passes_the_boundary_too(known_token, capsys, monkeypatch):
    """An exception no one foresaw still prints its traceback, but redacted and neutralised, and exits 1."""
    from pipelines import cli
    from pipelines.commands import tag

    def crash(text):
        raise RuntimeError(f"server said {known_token[3:]}\n::error::planted")

    monkeypatch.setattr(tag, "parse_tag", crash)
    code = cli.main(["tag", "parse", "percolate-v0.1.0"])
    _out, err = capsys.readouterr()

    assert code == 1 and "Traceback" in err and "a bug in pipelines" in err
    assert not [run for run in runs_of(known_token) if run in err]
    assert commands_in(err) == [] and "\\::error::planted" in err
