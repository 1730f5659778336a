"""The repository's history as the dashboard reads it: every tag with its date and commit, and every
committed version of a file, each in a fixed number of `git` processes however long the history.

`git for-each-ref` lists the tags in one call; a file's versions are one `git log` and one
`git cat-file --batch` (all versions through one pipe, not one `git show` per commit); the dashboard and
`rollback` both read the stack file's history here.

Whatever a contributor can push is read without a crash: records are split only where git separates them
(a line feed between refs, which no ref name holds; a NUL between commits), fields by NUL, and dates are
read from git's raw form (`SECONDS +HHMM`) by `git_date`, which refuses what no calendar here holds. A tag
or commit that does not fit is left out, with a note in `notes`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pipelines.core.errors import InputError, Unavailable
from pipelines.core.tags import parse_tag

_FIELD = "%00"  # NUL: in no ref name, object name or date
_RAW_DATE = re.compile(r"(-?[0-9]{1,20}) ([+-])([0-9]{2})([0-9]{2})")
# One commit of `git log -z --date=raw --format="%H %cd %s"`: records end at NUL, which no subject holds.
_LOG_RECORD = re.compile(r"([0-9a-f]{40}(?:[0-9a-f]{24})?) (-?[0-9]+ [+-][0-9]{4}) (.*)", re.DOTALL)
# The dates the page can compute with: from the epoch to a year before datetime's end (a week or a year
# added to the newest date still fits).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9998, 12, 31, tzinfo=UTC)


def git_date(raw: str) -> datetime | None:
    """A date in git's raw form (`1700000000 +0200`) with its zone; None when it is no such date, its zone is
    none (`+9959`) or it lies outside the years the page computes with (a tag with no tagger has no date)."""
    found = _RAW_DATE.fullmatch(raw.strip())
    if found is None:
        return None
    seconds, sign, hours, minutes = found.groups()
    if int(hours) > 23 or int(minutes) > 59:
        return None
    offset = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
    try:
        utc = _EARLIEST + timedelta(seconds=int(seconds))
        if not _EARLIEST <= utc <= _LATEST:
            return None
        return utc.astimezone(timezone(offset))
    except (ValueError, OverflowError):
        return None


def is_release_tag(name: str) -> bool:
    """Whether `name` is a release or RC tag's name exactly (`refs/tags/percolate-v0.1.0` is not)."""
    try:
        return parse_tag(name).name == name
    except InputError:
        return False


def _printable(name: str) -> str:
    return ascii(name[:120])


@dataclass(frozen=True)
class TagRef:
    """A tag: its name, its date (the tagger's for an annotated tag, else the commit's) and its commit."""

    name: str
    date: datetime
    commit: str
    commit_date: datetime


@dataclass(frozen=True)
class FileVersion:
    """One committed version of a file: the commit, its committer date and subject, and the text (None when
    the bytes are not UTF-8, or the commit deleted the file: then `deleted` is true)."""

    commit: str
    date: datetime
    subject: str
    text: str | None
    deleted: bool = False


class GitHistory:
    """Read-only history queries on the repository at `root`; `notes` collects what was left out and why."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.notes: list[str] = []

    def _run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(["git", *args], cwd=self.root, input=stdin, capture_output=True, check=False)
        except FileNotFoundError:
            raise InputError("git is not installed", hint="install git") from None

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        result = self._run(*args, stdin=stdin)
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise Unavailable(f"git {args[0]} failed in {self.root}: {message}", hint="see git's message")
        return result.stdout

    def _tag_fields(self, *fields: str) -> list[list[str]]:
        """`fields` of every tag, in one `git for-each-ref`: the one tag lister (fetch tags first in CI: a shallow
        clone has none). One line per ref (no ref name holds a line feed), fields split at NUL; a line with
        another number of fields is left out with a note. A root that is no git checkout is bad input."""
        result = self._run("for-each-ref", f"--format={_FIELD.join(fields)}", "refs/tags")
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise InputError(f"cannot list git tags in {self.root}: {message}", hint="pass --root DIR")
        rows = []
        for line in result.stdout.decode("utf-8", "replace").split("\n"):
            row = line.split("\x00")
            if not line:
                continue
            if len(row) == len(fields):
                rows.append(row)
            else:
                self.notes.append(f"git tag line {_printable(line)} does not read as a tag; skipped")
        return rows

    def tag_names(self) -> list[str]:
        """Every tag's name, sorted (what `Git.tags` gives)."""
        return [name for (name,) in self._tag_fields("%(refname:strip=2)")]

    def tags(self) -> list[TagRef]:
        """Every tag with its date and commit. `%(*…)` peels a tag once: a tag of a tag peels to the inner tag,
        which has no committer date, so those are peeled to their commit in one `git cat-file` (release tags
        only: another name is no release). A tag that ends at no commit (a tagged tree or blob) is left out:
        it names no release; so is a tag whose date or commit date no calendar holds, with a note."""
        fields = (
            "%(refname:strip=2)",
            "%(creatordate:raw)",
            "%(*objecttype)",
            "%(*objectname)",
            "%(objectname)",
            "%(*committerdate:raw)",
            "%(committerdate:raw)",
        )
        rows = self._tag_fields(*fields)
        nested = [name for name, _, peeled_type, *_ in rows if peeled_type == "tag" and is_release_tag(name)]
        commits = self._commits_of(nested)
        refs = []
        for name, raw_date, peeled_type, peeled, target, peeled_date, own_date in rows:
            if peeled_type == "tag":
                if name not in commits:
                    continue  # a chain ending at a tree or a blob, or no release tag
                commit, commit_date = commits[name]
            else:
                commit, commit_date = peeled or target, git_date(peeled_date or own_date)
                if not (peeled_date or own_date):
                    continue  # a tag of a tree or a blob names no commit
            date = git_date(raw_date)
            if date is None or commit_date is None:
                which = "date" if date is None else "commit's date"
                self.notes.append(f"tag {_printable(name)}: its {which} ({raw_date or 'none'}) is no date; skipped")
                continue
            refs.append(TagRef(name, date, commit, commit_date))
        return refs

    def _commits_of(self, names: list[str]) -> dict[str, tuple[str, datetime | None]]:
        """The commit (and its committer date, None when no date) each of these tags finally points at, in one
        `git cat-file --batch`; a tag whose chain ends at a tree or a blob is left out."""
        if not names:
            return {}
        out = self._git("cat-file", "--batch", stdin="".join(f"refs/tags/{n}^{{commit}}\n" for n in names).encode())
        found: dict[str, tuple[str, datetime | None]] = {}
        offset = 0
        for name in names:
            end = out.index(b"\n", offset)
            header = out[offset:end].decode("utf-8", "replace").split(" ")
            offset = end + 1
            if len(header) != 3 or header[1] != "commit":
                continue  # `… missing`: no commit at the end of the chain
            body = out[offset : offset + int(header[2])]
            offset += int(header[2]) + 1
            committer = next((line for line in body.split(b"\n") if line.startswith(b"committer ")), b"")
            raw = committer.decode("utf-8", "replace").rpartition(">")[2]
            found[name] = (header[0], git_date(raw))
        return found

    def file_versions(self, path: str) -> list[FileVersion]:
        """Every committed version of `path` reachable from HEAD, oldest first; a commit whose date no calendar
        holds is left out with a note."""
        out = self._git(
            "log", "-z", "--reverse", "--date=raw", "--format=%H %cd %s", "--end-of-options", "HEAD", "--", path
        )
        commits: list[tuple[str, datetime, str]] = []
        for record in out.decode("utf-8", "replace").split("\x00"):
            found = _LOG_RECORD.fullmatch(record)
            date = git_date(found.group(2)) if found else None
            if found is None:
                if record:
                    self.notes.append(f"git log record {_printable(record)} does not read as a commit; skipped")
            elif date is None:
                self.notes.append(f"{path} at {found.group(1)[:7]}: its date ({found.group(2)}) is no date; skipped")
            else:
                commits.append((found.group(1), date, found.group(3)))
        if not commits:
            return []
        blobs = self._git("cat-file", "--batch", stdin="".join(f"{sha}:{path}\n" for sha, _, _ in commits).encode())
        versions, offset = [], 0
        for sha, date, subject in commits:
            end = blobs.index(b"\n", offset)
            header = blobs[offset:end].decode("utf-8", "replace")
            offset = end + 1
            text: str | None = None
            deleted = header.endswith(" missing")
            if not deleted:
                size = int(header.rsplit(" ", 1)[1])
                data = blobs[offset : offset + size]
                offset += size + 1  # the content and its trailing newline
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            versions.append(FileVersion(sha, date, subject, text, deleted))
        return versions
