"""Release notes of one project in a large monorepo: `python -m pipelines changelog` next to `git cliff`.

The repository is generated with `git fast-import`: 10,000 commits spread over the three project folders
(conventional and other messages, breaking changes, pull request numbers) and 300 tags of the three
projects interleaved (RCs and releases). Two cases, each for both tools with the same range and paths:
- `latest`: the newest release of percolate (previous release..tag, only `percolate/`);
- `history`: percolate-rocks' first release, which spans the whole history (only `percolate-rocks/`).
Both tools run as processes, as a workflow step runs them (our interpreter's start-up included). Ours runs
in a fresh venv that has the repository on its path, as after the workflows' `pip install .`: the dev
venv's editable install adds a path finder that costs ~20 ms at every start, which no workflow pays.
Prints the medians and the ratio, and writes benchmarks/results/changelog.json.

git-cliff is a benchmark-only tool, in the `bench` extra: `pip install -e '.[bench]'` (make bench does).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "changelog.json"
COMMITS = 10_000
RUNS = 7
PROJECTS = ("percolate", "percolate-reading", "percolate-rocks")
MESSAGES = (
    "feat(api): add endpoint {i} (#{i})",
    "fix: handle case {i}",
    "perf(index): faster path {i}",
    "docs: explain {i}",
    "Update things {i}",
    "feat!: drop option {i}",
    "refactor: move {i}\n\nBREAKING CHANGE: renamed setting {i}",
    "chore(release): bump {i}",
)
CLIFF_CONFIG = """
[changelog]
header = ""
body = \"\"\"
{% for group, commits in commits | group_by(attribute="group") %}
### {{ group }}
{% for commit in commits %}- {% if commit.scope %}**{{ commit.scope }}:** {% endif %}{{ commit.message }} \
({{ commit.id | truncate(length=7, end="") }})
{% endfor %}{% endfor %}
\"\"\"
trim = true

[git]
conventional_commits = true
filter_unconventional = false
split_commits = false
protect_breaking_commits = true
filter_commits = false
commit_parsers = [
  { message = "^chore\\\\(release\\\\)", skip = true },
  { message = "^feat", group = "Features" },
  { message = "^fix", group = "Fixes" },
  { message = "^perf", group = "Performance" },
  { message = "^security", group = "Security" },
  { message = ".*", group = "Other changes" },
]
"""


def fast_import_stream() -> tuple[bytes, str, str]:
    """The stream of the whole repository, and the two tags the cases use."""
    out: list[bytes] = []
    tags: list[tuple[str, int]] = []
    released = {"percolate": 0, "percolate-reading": 0}
    when = 1_700_000_000
    for i in range(1, COMMITS + 1):
        project = PROJECTS[i % 3]
        message = MESSAGES[i % len(MESSAGES)].format(i=i).encode()
        data = f"change {i}\n".encode()
        out.append(b"commit refs/heads/main\nmark :%d\n" % i)
        out.append(b"author Dev <%d+dev@users.noreply.github.com> %d +0000\n" % (i % 97, when + i))
        out.append(b"committer Dev <dev@example.com> %d +0000\n" % (when + i))
        out.append(b"data %d\n%s\n" % (len(message), message))
        if i > 1:
            out.append(b"from :%d\n" % (i - 1))
        out.append(b"M 100644 inline %s/src/f%d.txt\ndata %d\n%s\n" % (project.encode(), i % 50, len(data), data))
        # 299 tags of percolate and percolate-reading in turns (two RCs, then the release), one of rocks at the end.
        if i % 67 == 0 and len(tags) < 299:
            tagged = "percolate" if len(tags) % 2 == 0 else "percolate-reading"
            step = sum(1 for name, _ in tags if name.startswith(f"{tagged}-v"))
            minor, rc = step // 3 + 1, step % 3 + 1
            if rc == 3:
                released[tagged] = minor
            tags.append((f"{tagged}-v0.{minor}.0" + ("" if rc == 3 else f"-rc{rc}"), i))
    tags.append(("percolate-rocks-v1.0.0", COMMITS))
    for name, mark in tags:
        out.append(b"reset refs/tags/%s\nfrom :%d\n\n" % (name.encode(), mark))
    latest = f"percolate-v0.{released['percolate']}.0"
    return b"".join(out), latest, "percolate-rocks-v1.0.0"


def medians(commands: list[list[str]], cwd: Path, env: dict[str, str]) -> list[float]:
    """The median seconds of each command; the commands take turns, so a busy moment of the machine costs both."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(RUNS):
        for command, spent in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def installed_python(folder: Path) -> str:
    """An interpreter that imports `pipelines` as a regular install does: a fresh venv (no editable-install
    finder, no site hooks of this machine's base interpreter) whose site-packages has the repository on its
    path."""
    base = Path(sys.base_prefix) / "bin" / Path(sys.executable).name
    subprocess.run(
        [str(base if base.exists() else sys.executable), "-m", "venv", "--without-pip", str(folder)], check=True
    )
    [site_packages] = folder.glob("lib/python*/site-packages")
    (site_packages / "percolate-platform.pth").write_text(f"{ROOT}\n")
    return str(folder / "bin" / "python")


def main() -> int:
    cliff = shutil.which("git-cliff", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if cliff is None:
        print("git-cliff is not installed: pip install -e '.[bench]' (or make bench)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as temp:
        repo = Path(temp) / "monorepo"
        repo.mkdir()
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        # pip compiles an install's bytecode; a shell that says PYTHONDONTWRITEBYTECODE would make every run
        # compile our modules again. The first run (finding the previous tag) fills this cache.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(temp) / "pycache")
        python = installed_python(Path(temp) / "venv")
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env, check=True)
        stream, latest, history = fast_import_stream()
        started = time.perf_counter()
        subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, env=env, input=stream, check=True)
        subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, env=env, check=True)
        print(f"generated {COMMITS} commits and 300 tags in {time.perf_counter() - started:.1f}s")
        (repo / "cliff.toml").write_text(CLIFF_CONFIG)
        previous = json.loads(
            subprocess.run(
                [python, "-m", "pipelines", "changelog", latest, "--json"],
                cwd=repo, env=env, check=True, capture_output=True, text=True,
            ).stdout
        )["previous_tag"]  # fmt: skip
        cases = {
            "latest": (latest, f"{previous}..{latest}", "percolate", r"^percolate-v[0-9]"),
            # git cliff takes a range A..B or nothing (all of HEAD's history; HEAD is the tag's commit here).
            "history": (history, "", "percolate-rocks", r"^percolate-rocks-v[0-9]"),
        }
        results = {}
        for case, (tag, revisions, folder, pattern) in cases.items():
            peer_command = [cliff, "--config", "cliff.toml", "--include-path", f"{folder}/**"]
            peer_command += ["--tag-pattern", pattern, "--output", os.devnull, *([revisions] if revisions else [])]
            ours, peer = medians([[python, "-m", "pipelines", "changelog", tag], peer_command], repo, env)
            results[case] = {
                "tag": tag,
                "revisions": revisions,
                "ours_s": ours,
                "git_cliff_s": peer,
                "ratio": peer / ours,
            }
            print(f"{case:8} {revisions or tag}: changelog {ours * 1000:.0f} ms, git cliff {peer * 1000:.0f} ms, "
                  f"git cliff / changelog = {peer / ours:.2f}")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([cliff, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    record = {
        "commits": COMMITS,
        "tags": 300,
        "runs": RUNS,
        "python": "a fresh venv with the repository on its path",
        "peer": version,
        "cases": results,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
