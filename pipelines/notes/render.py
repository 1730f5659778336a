"""Release notes as one value (`ReleaseNotes`), and its two forms: Markdown for the GitHub release body and
a plain structure for `--json` (the same sections, entries and commands).

Pull request numbers, commits and authors link to the repository on GitHub; an author is linked by login
only when the commit's address is GitHub's noreply form (the one place a login is known without asking
GitHub), else named. In the Markdown, an entry's overlong part is cut and marked; past the body's limit,
the last entries give way to one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipelines.notes.commits import Commit
from pipelines.notes.groups import Section
from pipelines.notes.span import Span
from pipelines.notes.verification import Verification

# GitHub refuses a release body over 125,000 characters ("body is too long"); stay clear of it.
MAX_BODY = 120_000
CUT_LINE = "… and {count} more changes, left out to fit a GitHub release: see the commits since {since}."
# Each written part of an entry (scope, text, author's name) is cut past this many characters: one commit with
# a 200 KB footer must not push every other entry out of the body. `--json` keeps the parts whole.
MAX_PART = 1_000
PART_CUT = "… (cut; the commit has the whole text)"


@dataclass(frozen=True)
class ReleaseNotes:
    span: Span
    repository: str  # OWNER/NAME on GitHub
    sections: tuple[Section, ...]
    verification: Verification | None

    @property
    def commit_count(self) -> int:
        return sum(len(section.commits) for section in self.sections)


def _github(repository: str) -> str:
    return f"https://github.com/{repository}"


def shortened(text: str, limit: int = MAX_PART) -> str:
    """`text` whole when it fits in `limit` characters, else its start (at a space when one is near) and PART_CUT."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(PART_CUT) - 1]  # room for a closing backtick
    space = head.rfind(" ")
    head = (head[:space] if space > len(head) // 2 else head).rstrip()
    if head.count("`") % 2:  # a code span left open would run on into the entry's links and swallow them
        head += "`"
    return head + PART_CUT


def _entry_markdown(commit: Commit, repository: str, section: str) -> str:
    scope = f"**{shortened(commit.scope)}:** " if commit.scope else ""
    text = commit.breaking_note if section == "breaking" and commit.breaking_note else commit.description
    links = [f"[`{commit.short_sha}`]({_github(repository)}/commit/{commit.sha})"]
    if commit.pull_request is not None:
        links.insert(0, f"[#{commit.pull_request}]({_github(repository)}/pull/{commit.pull_request})")
    by = _author_markdown(shortened(commit.author.name), commit.author.login)
    return f"- {scope}{shortened(text)} ({', '.join(links)}) by {by}"


def _author_markdown(name: str, login: str | None) -> str:
    if login is None:
        return name
    if login.endswith("[bot]"):  # an app's account page is under /apps/
        return f"[@{login}](https://github.com/apps/{login.removesuffix('[bot]')})"
    return f"[@{login}](https://github.com/{login})"


def markdown(notes: ReleaseNotes, limit: int = MAX_BODY) -> str:
    """The notes as the GitHub release body, at most `limit` characters: past it, the last entries give way to
    a line saying how many were left out (the verification commands always stay)."""
    span, repo = notes.span, notes.repository
    since = (
        f"[{span.previous.name}]({_github(repo)}/compare/{span.previous.name}...{span.tag.name})"
        if span.previous
        else "the start of the project"
    )
    head = [f"## {span.tag.name}", "", f"Changes to `{'`, `'.join(span.paths)}` since {since}.", ""]
    tail = _verification_markdown(notes.verification) if notes.verification is not None else []
    cut_line = CUT_LINE.format(count=notes.commit_count, since=since)  # no shorter than the one written
    budget = limit - sum(len(line) + 1 for line in head + tail) - len(cut_line) - 2
    body: list[str] = []
    used = left_out = 0
    for section in notes.sections:
        lines = [f"### {section.title}", ""]
        used += len(section.title) + 7  # the heading, its blank line and the one after the section
        for commit in section.commits:
            entry = _entry_markdown(commit, repo, section.key)
            if left_out or used + len(entry) + 1 > budget:
                left_out += 1
                continue
            lines.append(entry)
            used += len(entry) + 1
        if len(lines) > 2:
            body += [*lines, ""]
    if left_out:
        body += [CUT_LINE.format(count=left_out, since=since), ""]
    if not notes.sections:
        body += ["No changes to this project since then.", ""]
    return "\n".join(head + body + tail).rstrip("\n") + "\n"


def _verification_markdown(verification: Verification) -> list[str]:
    lines = ["### Verify this release", ""]
    if verification.kind == "image":
        lines += [f"Image: `{verification.subjects[0]}`", ""]
    else:
        lines += [f"- `{subject}`" for subject in verification.subjects]
        lines += [""] if verification.subjects else []
    lines += ["```sh", *verification.commands, "```", ""]
    return lines


def _entry_data(commit: Commit) -> dict[str, Any]:
    return {
        "sha": commit.sha,
        "type": commit.type,
        "scope": commit.scope,
        "description": commit.description,
        "breaking": commit.breaking,
        "breaking_note": commit.breaking_note,
        "pull_request": commit.pull_request,
        "author": {"name": commit.author.name, "login": commit.author.login},
        "conventional": commit.conventional,
    }


def as_data(notes: ReleaseNotes) -> dict[str, Any]:
    """The notes for `--json`: the same sections and commands as the Markdown."""
    span, verification = notes.span, notes.verification
    checks = None
    if verification is not None:
        checks = {
            "kind": verification.kind,
            "subjects": list(verification.subjects),
            "commands": list(verification.commands),
        }
    return {
        "tag": span.tag.name,
        "project": span.tag.project,
        "version": span.tag.package_version.pep440(),
        "previous_tag": span.previous.name if span.previous else None,
        "revisions": span.revisions,
        "paths": list(span.paths),
        "repository": notes.repository,
        "sections": [
            {"key": s.key, "title": s.title, "commits": [_entry_data(c) for c in s.commits]} for s in notes.sections
        ],
        "verification": checks,
        "markdown": markdown(notes),
    }
