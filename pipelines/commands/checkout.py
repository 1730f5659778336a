"""--root and the checkout a command reads: checked before any git or network call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.core.errors import InputError

if TYPE_CHECKING:
    from pathlib import Path

    from pipelines.edges.git import Git


def check_root(root: Path | None) -> None:
    """--root, when given, must be a folder (checked before any git or network call)."""
    if root is not None and not root.is_dir():
        raise InputError(f"--root {root} is not a folder", hint="pass the monorepo's root folder")


def resolve_root(root: Path | None) -> Path:
    """--root when given (it must be a folder), else the git top level of the working directory."""
    from pipelines.edges.git import Git

    if root is None:
        return Git.toplevel().root
    check_root(root)
    return root.resolve()


def optional_checkout(root: Path | None) -> Git | None:
    """The checkout at --root or around the working directory, or None outside any (checks that need git skip)."""
    from pipelines.edges.git import Git

    check_root(root)
    try:
        return Git.toplevel(root)
    except InputError:
        return None
