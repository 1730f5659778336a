"""Step outputs as the Actions runner reads GITHUB_OUTPUT: no value can add or change another output."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.output import actions_outputs, output_entry


def read_outputs(text: str) -> dict[str, str]:
    """The runner's reading of GITHUB_OUTPUT: `key=value` lines, or `key<<DELIMITER` up to a line `DELIMITER`."""
    outputs: dict[str, str] = {}
    lines = text.split("\n")
    position = 0
    while position < len(lines):
        line = lines[position]
        position += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, position)
            outputs[key] = "\n".join(lines[position:end])
            position = end + 1
        else:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


def test_a_value_with_a_newline_cannot_inject_another_output(tmp_path, monkeypatch):
    path = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    actions_outputs({"outcome": "failed\nrollback=false", "digest": "sha256:abc"})
    assert read_outputs(path.read_text()) == {"outcome": "failed\nrollback=false", "digest": "sha256:abc"}


PRINTABLE_OR_LINE_BREAKS = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\r\n")


@given(st.text(alphabet=PRINTABLE_OR_LINE_BREAKS, max_size=200))
def test_any_value_reads_back_exactly(value):
    assert read_outputs(output_entry("value", value) + output_entry("after", "x")) == {"value": value, "after": "x"}


@given(
    st.text(max_size=20),
    st.characters(categories=("Cc",), max_codepoint=0x7F).filter(lambda c: c not in "\t\r\n"),
    st.text(max_size=20),
)
def test_a_value_with_a_control_character_is_refused(before, control, after):
    with pytest.raises(InputError, match="control characters"):
        output_entry("value", before + control + after)


@pytest.mark.parametrize("key", ["", "a=b", "a<<b", "a\nb"])
def test_an_output_name_that_is_not_plain_is_a_programming_error(key):
    with pytest.raises(ValueError, match="not a plain name"):
        output_entry(key, "value")
