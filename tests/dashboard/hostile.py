"""A small repository to attack the dashboard with (tests/dashboard/test_hostile*.py): one commit, an RC and
a release tag, one deploy in Pulumi.prod.yaml; the tests add what a contributor could push (a tag object
written by hand, a commit with a forged date, a stack file naming another repository) and run the command."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kit.git import git
from tests.conftest import run_cli_in_process
from tests.dashboard.conftest import NOW

AT = "2025-10-01T10:00:00+00:00"


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def stack(version: str, owner: str = "example-org", name: str = "mono") -> str:
    return (
        "config:\n  percolate-platform:repository:\n"
        f"    owner: {owner}\n    name: {name}\n"
        "  percolate-platform:images:\n    percolate:\n"
        "      repository: ghcr.io/percolation-labs/percolate\n"
        f"      version: {version}\n      digest: {sha('p' + version)}\n"
        f"      platforms:\n        amd64: {sha('a' + version)}\n        arm64: {sha('b' + version)}\n"
        f"      source: 2025.01.01.0000-build.1-v{version}-abc1234\n"
    )


def base_repo(root: Path) -> Path:
    """percolate 0.1.0: rc1 and release tags on the first commit, deployed by the second."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    (root / "f").write_text("a\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init", at=AT)
    for tag in ("percolate-v0.1.0-rc1", "percolate-v0.1.0"):
        git(root, "tag", "-a", tag, "-m", "x", at=AT)
    commit_stack(root, stack("0.1.0"), "deploy (#5)")
    return root


def commit_stack(root: Path, text: str, subject: str, at: str = "2025-10-02T10:00:00+00:00") -> None:
    (root / "Pulumi.prod.yaml").write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", subject, at=at)


def tag_object(root: Path, name: str, tagger: str | None, target: str = "HEAD~1") -> None:
    """An annotated tag written by hand, as `git mktag` would refuse it: `tagger` is the line's date part
    (`SECONDS +HHMM`), None for no tagger line at all."""
    commit = git(root, "rev-parse", target)
    lines = [f"object {commit}", "type commit", f"tag {name}"]
    if tagger is not None:
        lines.append(f"tagger a <a@a> {tagger}")
    obj = git(root, "hash-object", "-t", "tag", "-w", "--stdin", "--literally", input="\n".join(lines) + "\n\nx\n")
    git(root, "update-ref", f"refs/tags/{name}", obj)


def forged_commit(root: Path, date: str, subject: str, text: str) -> None:
    """A commit on main changing Pulumi.prod.yaml to `text`, with committer and author date `date` (raw)."""
    (root / "Pulumi.prod.yaml").write_text(text)
    git(root, "add", "-A")
    tree = git(root, "write-tree")
    parent = git(root, "rev-parse", "HEAD")
    body = f"tree {tree}\nparent {parent}\nauthor a <a@a> {date}\ncommitter a <a@a> {date}\n\n{subject}\n"
    obj = git(root, "hash-object", "-t", "commit", "-w", "--stdin", "--literally", input=body)
    git(root, "update-ref", "refs/heads/main", obj)


@dataclass(frozen=True)
class Built:
    code: int
    stderr: str
    page: str


def dashboard(root: Path, out: Path, *extra: str) -> Built:
    """`dashboard` on `root` at the tests' NOW, writing into `out`."""
    result = run_cli_in_process("dashboard", "--root", str(root), "--out", str(out), "--at", NOW.isoformat(), *extra)
    page = (out / "index.html").read_text() if (out / "index.html").exists() else ""
    return Built(result.code, result.stderr, page)
