"""`make demo`: the release flow on embedded defaults, offline, in a temp copy of examples/monorepo.

Each step runs the real CLI (`python -m pipelines`) the way a workflow would, and
prints what it did. Nothing is left behind: the temp monorepo is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pipelines.catalog import project_names

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
EXAMPLE = HERE / "monorepo"
RUN_NUMBER = "123"
BUILD_TIME = "2025-10-25T14:30:00Z"


def say(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Percolate Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.invalid",
        "GIT_COMMITTER_NAME": "Percolate Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.invalid",
    }
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout.strip()


def pipelines(root: Path, *args: str) -> str:
    """Run the CLI in the monorepo, echoing the command line and its output; stop the demo on failure."""
    print(f"$ python -m pipelines {' '.join(args)}", flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GITHUB_RUN_NUMBER": RUN_NUMBER}
    result = subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=root, env=env, capture_output=True, text=True)
    print(result.stdout, end="", flush=True)
    if result.returncode != 0:
        print(result.stderr, end="", file=sys.stderr)
        raise SystemExit(f"demo step failed (exit {result.returncode}): python -m pipelines {' '.join(args)}")
    return result.stdout.strip()


def make_monorepo(workdir: Path) -> Path:
    root = workdir / "monorepo"
    shutil.copytree(EXAMPLE, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Import the example monorepo")
    print(f"temp monorepo at {root}, commit {git(root, 'rev-parse', '--short', 'HEAD')}")
    return root


def release_project(root: Path, project: str) -> None:
    """Cut the next RC of the version in the project's version file, plan it, then plan its release."""
    rc_tag = pipelines(root, "tag", "next-rc", project)
    git(root, "tag", "-a", rc_tag, "-m", rc_tag)
    print(f"pushed tag {rc_tag} (an RC tag starts a build)")
    pipelines(root, "plan", rc_tag, "--at", BUILD_TIME)
    release_tag = rc_tag.rsplit("-rc", 1)[0]
    git(root, "tag", "-a", release_tag, "-m", release_tag)
    print(f"pushed tag {release_tag} on the same commit (a tag without -rc starts a release)")
    pipelines(root, "plan", release_tag)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="percolate-demo-") as workdir:
        say("a monorepo with git history")
        root = make_monorepo(Path(workdir))
        say("version files")
        pipelines(root, "versions", "check")
        for project in project_names():
            say(f"{project}: RC build, then release")
            release_project(root, project)
    say("done: the temp monorepo is removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
