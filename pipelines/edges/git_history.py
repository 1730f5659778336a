"""The repository's history as the dashboard reads it: every tag with its date and commit, and every
committed version of a file, each in a fixed number of `git` processes however long the history.

`git for-each-ref` lists the tags in one call; a file's versions are one `git log` and one
`git cat-file --batch` (all versions through one pipe, not one `git show` per commit); the dashboard and
`rollback` both read the stack file's history here.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipelines.core.errors import InputError, Unavailable

_SEPARATOR = "\x1f"  # unit separator: cannot occur in a ref name or an ISO date


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
    """Read-only history queries on the repository at `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

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
        clone has none). A root that is no git checkout is bad input."""
        result = self._run("for-each-ref", f"--format={_SEPARATOR.join(fields)}", "refs/tags")
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise InputError(f"cannot list git tags in {self.root}: {message}", hint="pass --root DIR")
        return [line.split(_SEPARATOR) for line in result.stdout.decode("utf-8", "replace").splitlines()]

    def tag_names(self) -> list[str]:
        """Every tag's name, sorted (what `Git.tags` gives)."""
        return [name for (name,) in self._tag_fields("%(refname:strip=2)")]

    def tags(self) -> list[TagRef]:
        """Every tag with its date and commit. `%(*…)` peels a tag once: a tag of a tag peels to the inner tag,
        which has no committer date, so those few are peeled to their commit by `git show` (one call each: they
        are rare). A tag that ends at no commit (a tagged tree or blob) is left out: it names no release."""
        fields = (
            "%(refname:strip=2)",
            "%(creatordate:iso-strict)",
            "%(*objecttype)",
            "%(*objectname)",
            "%(objectname)",
            "%(*committerdate:iso-strict)",
            "%(committerdate:iso-strict)",
        )
        rows = self._tag_fields(*fields)
        nested = [name for name, _, peeled_type, *_ in rows if peeled_type == "tag"]
        commits = self._commits_of(nested)
        refs = []
        for name, date, peeled_type, peeled, target, peeled_date, own_date in rows:
            commit, commit_date = commits.get(name, ("", "")) if peeled_type == "tag" else (peeled or target, "")
            commit_date = commit_date or peeled_date or own_date
            if not commit_date:
                continue  # a tag of a tree or a blob (or a chain ending at one) names no commit
            refs.append(TagRef(name, datetime.fromisoformat(date), commit, datetime.fromisoformat(commit_date)))
        return refs

    def _commits_of(self, names: list[str]) -> dict[str, tuple[str, str]]:
        """The commit (and its committer date) each of these tags finally points at; a tag whose chain ends at a
        tree or a blob is left out."""
        found: dict[str, tuple[str, str]] = {}
        for name in names:
            result = self._run("show", "-s", f"--format=%H{_SEPARATOR}%cI", f"refs/tags/{name}^{{commit}}", "--")
            if result.returncode == 0:
                sha, date = result.stdout.decode().strip().split(_SEPARATOR)
                found[name] = (sha, date)
        return found

    def file_versions(self, path: str) -> list[FileVersion]:
        """Every committed version of `path` reachable from HEAD, oldest first."""
        out = self._git(
            "log", "--reverse", f"--format=%H{_SEPARATOR}%cI{_SEPARATOR}%s", "--end-of-options", "HEAD", "--", path
        )
        commits = [line.split(_SEPARATOR, 2) for line in out.decode("utf-8", "replace").splitlines() if line]
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
            versions.append(FileVersion(sha, datetime.fromisoformat(date), subject, text, deleted))
        return versions
