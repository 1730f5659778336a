"""Conventional Commits, read leniently: type, scope, `!`, the BREAKING CHANGE footer, reverts, the pull
request number and the author's GitHub login.

A message that does not follow the convention is still a change: it becomes type "other" with its
subject as the description, never an error and never dropped. Parsing is pure (git is read elsewhere).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pipelines.core.names import LOGIN_PATTERN

# `type(scope)!: description`; a type is a word, a scope anything but parentheses and line breaks.
_HEADER = re.compile(r"(?P<type>[A-Za-z][A-Za-z0-9_-]*)(?:\((?P<scope>[^()\r\n]*)\))?(?P<bang>!)?: (?P<text>.*)")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE: ?(?P<text>.*)$", re.MULTILINE)
_PR_SUFFIX = re.compile(r"\s*\(#(?P<number>[1-9][0-9]{0,9})\)$")
_GIT_REVERT = re.compile(r'Revert "(?P<subject>.*)"$')
_REVERTED_SHA = re.compile(r"This reverts commit (?P<sha>[0-9a-f]{40})")
# GitHub's noreply addresses carry the login: `12345+login@users.noreply.github.com` or `login@users.noreply…`.
_NOREPLY = re.compile(
    rf"(?:[0-9]+\+)?(?P<login>{LOGIN_PATTERN})@users\.noreply\.github\.com",
    re.IGNORECASE,
)
_BOT_LOGIN = re.compile(r"(?:[0-9]+\+)?(?P<login>[A-Za-z0-9-]{1,39}\[bot\])@users\.noreply\.github\.com", re.IGNORECASE)


@dataclass(frozen=True)
class RawCommit:
    """One commit as git gives it: what `parse_commit` reads."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    message: str


@dataclass(frozen=True)
class Author:
    name: str
    login: str | None  # known only from a GitHub noreply address


@dataclass(frozen=True)
class Commit:
    """One commit read as a Conventional Commit."""

    sha: str
    subject: str  # the first line as written (a git revert quotes it)
    type: str  # lower case; "other" when the message does not follow the convention
    scope: str | None
    description: str
    breaking: bool
    breaking_note: str | None  # the BREAKING CHANGE footer's text, when there is one
    pull_request: int | None
    author: Author
    is_merge: bool
    reverts: str | None  # the reverted commit's SHA, or its subject when the SHA is not given
    conventional: bool

    @property
    def short_sha(self) -> str:
        return self.sha[:7]


def author_of(name: str, email: str) -> Author:
    """The author, with the GitHub login when the address is GitHub's noreply form."""
    bot = _BOT_LOGIN.fullmatch(email.strip())
    if bot:
        return Author(name, bot.group("login"))
    match = _NOREPLY.fullmatch(email.strip())
    return Author(name, match.group("login") if match else None)


def _pull_request(text: str) -> tuple[str, int | None]:
    """The text without a trailing `(#123)`, and the number."""
    match = _PR_SUFFIX.search(text)
    if not match:
        return text, None
    return text[: match.start()], int(match.group("number"))


def parse_commit(raw: RawCommit) -> Commit:
    """Read `raw`'s message as a Conventional Commit (or as type "other" when it is not one)."""
    lines = raw.message.strip().splitlines() or [""]
    subject, body = lines[0].strip(), "\n".join(lines[1:])
    text, pull_request = _pull_request(subject)
    footer = _BREAKING_FOOTER.search(body)
    reverted_sha = _REVERTED_SHA.search(body)
    as_other = Commit(
        sha=raw.sha,
        subject=subject,
        type="other",
        scope=None,
        description=text or "(no message)",
        breaking=footer is not None,
        breaking_note=(footer.group("text").strip() or None) if footer else None,
        pull_request=pull_request,
        author=author_of(raw.author_name, raw.author_email),
        is_merge=len(raw.parents) > 1,
        reverts=None,
        conventional=False,
    )
    git_revert = _GIT_REVERT.fullmatch(text)
    if git_revert:  # git's own `Revert "<subject>"`, with "This reverts commit <sha>." in the body
        quoted = git_revert.group("subject")
        reverts = reverted_sha.group("sha") if reverted_sha else quoted
        return replace(as_other, type="revert", description=quoted, breaking=False, reverts=reverts, conventional=True)
    header = _HEADER.fullmatch(text)
    if header is None or not header.group("text").strip():
        return as_other
    kind, description = header.group("type").lower(), header.group("text").strip()
    reverts = None
    if kind == "revert":
        reverts = reverted_sha.group("sha") if reverted_sha else description
    return replace(
        as_other,
        type=kind,
        scope=(header.group("scope") or "").strip() or None,
        description=description,
        breaking=header.group("bang") is not None or footer is not None,
        reverts=reverts,
        conventional=True,
    )
