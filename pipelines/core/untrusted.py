"""Text this process did not write (a registry's answer, a record, git history, a server's words) made safe to
print in a terminal or a GitHub Actions log.

The runner reads every line a step prints, and a line that starts with `::` (after blanks) is a
workflow command (`::error::`, `::add-mask::`, `::stop-commands::`); `##[` anywhere in a line is the
older form. A control character can start such a line (CR, LF in a value), hide text on a terminal
(ESC sequences, CR, zero-width and tag characters) or reorder it (bidirectional overrides): every
control, format, private-use or unassigned character counts. `neutralise` keeps line breaks and tabs,
shows every other such character as an escape (`\\x1b`, `\\u202e`), and breaks the command forms so
the runner reads plain text (a backslash before a leading `::`, a blank inside `##[`). The CLI's output
boundary applies it to everything it prints; the commands it means to send
(`pipelines.output.workflow_command`) are escaped as the runner expects.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: `tag parse` starts fast
if TYPE_CHECKING:
    from collections.abc import Callable


def _visible(char: str, category: Callable[[str], str]) -> str:
    if char in "\n\t":
        return char
    if category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return char


def neutralise(text: str) -> str:
    """`text` with control characters shown as escapes and every workflow-command form broken."""
    if text.replace("\n", "").replace("\t", "").isprintable():  # nothing to show as an escape (the common case)
        safe = text
    else:
        from unicodedata import category  # loaded for such text only

        safe = "".join(_visible(char, category) for char in text)
    if "::" not in safe and "##[" not in safe:
        return safe
    lines = safe.replace("##[", "# #[").split("\n")  # no backslash: JSON on stdout stays JSON
    return "\n".join("\\" + line if line.lstrip().startswith("::") else line for line in lines)
