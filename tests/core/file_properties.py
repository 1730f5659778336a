"""What every property test of a file boundary asserts: the CLI, run in-process on arbitrary input, ends
with exit 0, 1 or 2 (never an exception), writes nothing when it refuses, and prints no secret from the
environment."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

SECRETS = {
    "PERCOLATE_GIT_PAT": "ghp_propertysecret0123456789",
    "REGISTRY_PASSWORD": "registry-property-secret",
    "GITHUB_TOKEN": "ghs_propertytoken9876543210",
}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (symlinks as their target text). A stack file's empty lock
    file (`.NAME.lock`, made once a write starts and kept for the next writer) is not content."""
    return {
        str(path.relative_to(root)): os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        for path in sorted(root.rglob("*"))
        if (path.is_file() or path.is_symlink()) and not (path.name.startswith(".") and path.name.endswith(".lock"))
    }


def run_cli(argv: list[str]) -> tuple[int, str]:
    """`python -m pipelines ARGV` in this process with secrets in the environment; (exit code, all output)."""
    from pipelines import cli

    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in SECRETS}
    os.environ.update(SECRETS)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return code, out.getvalue() + err.getvalue()


def check_run(argv: list[str], root: Path) -> tuple[int, str]:
    """Run the CLI and assert the boundary's contract; returns (code, output) for further checks."""
    before = tree(root)
    code, output = run_cli(argv)
    assert code in (0, 1, 2), (code, output)
    assert "Traceback" not in output
    for secret in SECRETS.values():
        assert secret not in output
    if code != 0:
        assert tree(root) == before, output
    return code, output
