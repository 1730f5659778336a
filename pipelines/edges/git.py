"""A thin edge over the `git` command: the checkout's root, tags, commits,
and the few writes a deploy pull request needs (a worktree, a commit, a push).

The rules never import this module; commands read git through it and hand plain
values (tag names, SHAs, file texts) to the rules.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pipelines.core.errors import InputError, Unauthorized, Unavailable

# Who commits when the machine has no git identity (a fresh Actions runner).
BOT_NAME = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1, or SHA-256 in a repository of that format
# `git log -z` ends each commit with NUL; these end each field of one with NUL too, so a record is 5 fields.
_LOG_FIELDS = "%H%x00%P%x00%an%x00%ae%x00%B"
# What git prints when the remote refused its credentials: a 401 it could not answer (a token sent as an
# extra header is not git's own credential, so git asks for a username, and never may: no prompt here),
# credentials it sent and had refused, or a 403 (a token that may not do this, e.g. a read-only one pushing).
# Compiled on first use (re keeps it): only a failed fetch or push reads it.
_REFUSED = (
    r"could not read (?:Username|Password) for|Authentication failed for|"
    r"The requested URL returned error: 40[13]\b|Permission to \S+ denied to"
)


class Git:
    """Queries and the few writes the pipelines make against the git repository at `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def toplevel(cls, start: Path | None = None) -> Git:
        """The repository containing `start` (default: the working directory)."""
        where = start or Path.cwd()
        try:
            result = subprocess.run(
                ["git", "rev-parse", "--show-toplevel"],
                cwd=where,
                capture_output=True,
                encoding="utf-8",
                errors="surrogateescape",
                check=False,
            )
        except FileNotFoundError:
            raise InputError("git is not installed", hint="install git, or pass --root DIR") from None
        if result.returncode != 0:
            raise InputError(f"{where} is not inside a git checkout", hint="run from the monorepo, or pass --root DIR")
        return cls(Path(result.stdout.strip()))

    def _run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            encoding="utf-8",
            errors="replace",  # names and subjects only: file contents are read as bytes (git_history)
            check=False,
            env={**os.environ, **(env or {})},
        )

    def _check(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = self._run(*args, env=env)
        if result.returncode != 0:
            raise Unavailable(f"git {args[0]} failed in {self.root}: {result.stderr.strip()}", hint="see git's message")
        return result.stdout

    def tags(self) -> list[str]:
        """Every tag name of the repository, sorted, from the one tag lister (`GitHistory`)."""
        from pipelines.edges.git_history import GitHistory  # here: the commands that read one commit never need it

        return GitHistory(self.root).tag_names()

    def commit_of(self, ref: str) -> str | None:
        """The full SHA of the commit `ref` points at (through annotated tags), or None when unknown."""
        found = self.commit_and_time(ref)
        return found[0] if found is not None else None

    def commit_and_time(self, ref: str) -> tuple[str, datetime | None] | None:
        """The full SHA of the commit `ref` points at (through annotated tags) and its committer time (None when
        git's date does not make one), or None when unknown: the one query of a commit (`commit_of` reads its
        SHA), in one process. Signatures are not shown whatever the configuration (`log.showSignature` prints
        them before the format)."""
        result = self._run(
            "-c", "log.showSignature=false", "log", "-1", "--no-walk", "--no-color", "--format=%H%x00%ct",
            "--end-of-options", f"{ref}^{{commit}}", "--",
        )  # fmt: skip
        sha, _, seconds = result.stdout.strip().partition("\0")
        if result.returncode != 0 or not _SHA.fullmatch(sha):
            return None
        try:
            return sha, datetime.fromtimestamp(int(seconds), UTC)
        except (ValueError, OverflowError, OSError):  # no number, or a year datetime cannot hold (git allows 99999)
            return sha, None

    def subjects(self, revisions: str, path: str) -> list[str]:
        """`SHA7 subject` of each commit in `revisions` that touched `path`, newest first."""
        return self._check("log", "--format=%h %s", "--end-of-options", revisions, "--", path).splitlines()

    def log(self, revisions: str, paths: Sequence[str]) -> list[tuple[str, tuple[str, ...], str, str, str]]:
        """(SHA, parents, author name, author email, message) of each commit in `revisions` that touched
        `paths` (relative to the top level, from any folder of the checkout), newest first: one `git log`
        process, fields and records both ended by NUL: the one byte git never puts in a name, an address or a
        message (0x1F, say, is allowed in all three)."""
        top = [f":(top){path}" for path in paths]
        args = ["log", "-z", f"--format={_LOG_FIELDS}", "--end-of-options", revisions, "--", *top]
        # Bytes, decoded here: text mode would turn a CR in a name or message into a line feed.
        result = subprocess.run(["git", *args], cwd=self.root, capture_output=True, check=False)
        if result.returncode != 0:
            stderr = result.stderr.decode("utf-8", errors="replace").strip()
            raise Unavailable(f"git log failed in {self.root}: {stderr}", hint="see git's message")
        fields = result.stdout.decode("utf-8", errors="replace").split("\0")[:-1]  # after the last NUL: nothing
        records = []
        for start in range(0, len(fields) - 4, 5):
            sha, parents, name, email, message = fields[start : start + 5]
            records.append((sha, tuple(parents.split()), name, email, message))
        return records

    def is_shallow(self) -> bool:
        """Whether the checkout is a shallow clone: its grafted oldest commit looks as if it added every file."""
        return self._check("rev-parse", "--is-shallow-repository").strip() == "true"

    def fetch(self, remote: str, *refspecs: str, token: str | None = None) -> None:
        self._remote("fetch", remote, ["--quiet", "--tags", remote, *refspecs], token)

    def add_worktree(self, path: Path, commit: str) -> Git:
        self._check("worktree", "add", "--quiet", "--detach", str(path), commit)
        return Git(path)

    def remove_worktree(self, path: Path) -> None:
        self._run("worktree", "remove", "--force", str(path))

    def commit_file(self, path: str, message: str, branch: str) -> str:
        """Commit `path` on a new (or reset) `branch`; returns the commit's SHA."""
        self._check("checkout", "--quiet", "-B", branch)
        self._check("add", "--", path)
        identity = (
            []
            if self._run("config", "user.email").stdout.strip()
            else [
                "-c",
                f"user.name={BOT_NAME}",
                "-c",
                f"user.email={BOT_EMAIL}",
            ]
        )
        self._check(*identity, "commit", "--quiet", "--message", message)
        return self._check("rev-parse", "HEAD").strip()

    def push(self, remote: str, branch: str, *, token: str | None = None) -> None:
        """Force-push `branch`: a deploy branch is always rebuilt from the newest main."""
        self._remote("push", remote, ["--quiet", "--force", remote, f"HEAD:refs/heads/{branch}"], token)

    def _remote(self, command: str, remote: str, args: list[str], token: str | None) -> None:
        """`git COMMAND ARGS` against `remote`, never prompting; a refused credential is Unauthorized."""
        result = self._run(command, *args, env={**self._auth(remote, token), "GIT_TERMINAL_PROMPT": "0"})
        if result.returncode == 0:
            return
        said = result.stderr.strip()
        if re.search(_REFUSED, said):
            raise Unauthorized(
                f"git {command} of {remote} was refused: the credentials are invalid, expired or lack a right "
                f"(git said: {said})",
                hint="replace the token with one that may read and write the repository's contents",
            )
        raise Unavailable(f"git {command} failed in {self.root}: {said}", hint="see git's message")

    def _auth(self, remote: str, token: str | None) -> dict[str, str]:
        """An HTTP auth header for an https remote, passed through the environment, never on the command line."""
        import base64  # only a push or fetch with a token pays for these imports
        from urllib.parse import urlsplit

        url = self._run("remote", "get-url", remote).stdout.strip()
        parts = urlsplit(url)
        if token is None or parts.scheme != "https":
            return {}
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{parts.scheme}://{parts.netloc}/.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
        }
