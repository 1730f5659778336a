"""`Git.log` against real commits (issue 21, item 12): whatever a name, an address or a message holds, each comes
back whole and in its own field, newest first.

Git stores an author's name and address after its own clean-up (`ident.c`: no NUL, line feed, `<` or `>`
anywhere, and none of its "crud" at either end: bytes up to the space and `.,:;<>"\\'`), and a message
verbatim with `--cleanup=verbatim` (no NUL, which `git commit` refuses). The strategies generate exactly
what git keeps, so the expected fields are the generated ones; 0x1F (the old field separator), CR and line
feeds are drawn often.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kit.git import git
from pipelines.edges.git import Git

CRUD = "".join(chr(c) for c in range(33)) + ".,:;<>\"\\'"
NEVER_IN_IDENT = "\x00\n<>"
ODD = ["\x1f", "\x1e", "\r", "\t", " ", "%x00", "|"]

inner = st.lists(
    st.one_of(st.sampled_from(ODD), st.characters(codec="utf-8", exclude_characters=NEVER_IN_IDENT)), max_size=30
)
edge = st.characters(codec="utf-8", exclude_characters=NEVER_IN_IDENT + CRUD)
idents = st.one_of(edge, st.builds("{}{}{}".format, edge, inner.map("".join), edge))
messages = st.lists(
    st.one_of(st.sampled_from([*ODD, "\n", "\r\n"]), st.characters(codec="utf-8", exclude_characters="\x00")),
    min_size=1,
    max_size=100,
).map("".join)
PATH = "project/file.txt"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("log")
    (root / "project").mkdir()
    (root / "elsewhere.txt").write_text("not in the paths\n")
    (root / PATH).write_text("0\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def commit(root: Path, name: str, email: str, message: str) -> None:
    """One commit of PATH by `name <email>`, its message kept as given."""
    file = root / PATH
    file.write_text(file.read_text() + "x\n")
    git(root, "commit", "-q", "--cleanup=verbatim", "-F", "-", "--", PATH, author=(name, email), input=message)


@settings(max_examples=40)
@given(commits=st.lists(st.tuples(idents, idents, messages), min_size=1, max_size=3))
@example(commits=[("Ada\x1fLovelace", "ada\x1f@example.com", "feat: a\x1fb\n\nBREAKING CHANGE: c\x1fd\n")])
@example(commits=[("Bob\rJones", "bob@example.com", "fix: one\r\n\r\nbody\r"), ("A", "a@b", "%x00 \x1f")])
def test_every_field_comes_back_whole_whatever_it_holds(repo: Path, commits: list[tuple[str, str, str]]) -> None:
    before = git(repo, "rev-parse", "HEAD")
    for name, email, message in commits:
        commit(repo, name, email, message)
    shas = git(repo, "rev-list", f"{before}..HEAD").split()
    found = Git(repo).log(f"{before}..HEAD", ["project"])
    parents = [*shas[1:], before]
    assert found == [
        (sha, (parent,), name, email, message)
        for sha, parent, (name, email, message) in zip(shas, parents, reversed(commits), strict=True)
    ]


def test_only_the_paths_commits_and_none_when_nothing_touched_them(repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "touches nothing")
    assert Git(repo).log("HEAD~1..HEAD", ["project"]) == []
    [(_, parents, name, _, message)] = Git(repo).log("HEAD", ["elsewhere.txt"])
    assert (parents, name, message) == ((), "Test", "initial\n")
