"""Cold start of `python -m pipelines tag parse`: the command every workflow run starts with.

Measured as the workflows install the package: a plain `pip install` (not editable) of a wheel built
from this tree, into a temporary venv, with its bytecode compiled at install as pip does. The package's
dependencies are those of the interpreter running this script, reached through a `.pth` path line in the
temporary venv (no editable finder, no other `.pth` file runs at start-up). Every process runs outside the
tree, so the source folder is never imported by mistake.

The three commands take turns, 60 fresh processes each: the bare interpreter (the floor), `tag parse`, and a
process that imports pulumi and requests (what the CLI would pay if it loaded them up front). Prints the
median and fastest wall times, their ratios, and the top-level modules `tag parse` imports (from
`-X importtime`), and writes them to benchmarks/results/cli_startup.json.

Latest figures on this machine (2 cores, median of 60): interpreter floor 10.1 ms, tag parse 18.2 ms: 1.80x
(goal at most 2.0x, met; fastest runs 8.5 and 15.9 ms, 1.86x); 0.08x of importing pulumi and requests
(220 ms). The session before: 8.7 and 17.3 ms, 1.99x; since then the process skips its last garbage
collections (`gc.freeze` before exit). Before tag parse went without argparse, typing and dataclasses:
32.7 ms against a floor of 8.4 ms, 3.88x. Of what is left, `python -m` itself (runpy) costs about 3 ms, re
and enum 2.3 ms (json needs them too) and json 0.9 ms.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

RUNS = 60
FLOOR_GOAL = 2.0  # tag parse may take at most this many times a bare interpreter's start
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "cli_startup.json"
TAG_PARSE = ["-m", "pipelines", "tag", "parse", "percolate-reading-v0.1.0-rc2", "--json"]
COMMANDS = {
    "interpreter floor (python -c pass)": ["-c", "pass"],
    "pipelines tag parse": TAG_PARSE,
    "import pulumi + requests": ["-c", "import pulumi, requests"],
}


def install(work: Path) -> Path:
    """A venv in `work` with the package installed from a wheel, as `pip install .` does; its python."""
    source = work / "source"  # a copy: building in the tree would leave build/ and *.egg-info behind
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("pipelines", "infra"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], check=True)
    python = work / "venv" / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source)], check=True
    )
    wheel = next((work / "dist").glob("*.whl"))
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def samples_ms(commands: dict[str, list[str]], cwd: Path) -> dict[str, list[float]]:
    """Wall times of fresh processes, the commands taking turns, so that a busy moment of the machine falls on
    each of them alike; the first round only warms the file cache."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for turn in range(RUNS + 1):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=cwd, check=True, capture_output=True)
            if turn:
                samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def imported_modules(python: Path, cwd: Path) -> list[str]:
    """Top-level packages `tag parse` imports, from the interpreter's own -X importtime report."""
    result = subprocess.run(
        [str(python), "-X", "importtime", *TAG_PARSE], cwd=cwd, check=True, capture_output=True, text=True
    )
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    return sorted(names - {"imported package"})  # the header line


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        work = Path(folder)
        python = install(work)
        samples = samples_ms({name: [str(python), *args] for name, args in COMMANDS.items()}, work)
        modules = imported_modules(python, work)
    medians = {name: statistics.median(times) for name, times in samples.items()}
    fastest = {name: min(times) for name, times in samples.items()}
    floor, ours = "interpreter floor (python -c pass)", "pipelines tag parse"
    ratio, ratio_fastest = medians[ours] / medians[floor], fastest[ours] / fastest[floor]
    heavy = medians[ours] / medians["import pulumi + requests"]
    print(f"{RUNS} cold starts each, installed from a wheel into a temporary venv (median, fastest):")
    for name in COMMANDS:
        print(f"  {name:<36} {medians[name]:8.1f} ms {fastest[name]:8.1f} ms")
    met = "met" if ratio <= FLOOR_GOAL else "NOT met"
    goal = f"(goal at most {FLOOR_GOAL:.1f}x: {met})"
    print(f"  tag parse / interpreter floor        {ratio:8.2f}x {ratio_fastest:8.2f}x  {goal}")
    print(f"  tag parse / import pulumi + requests {heavy:8.2f}x")
    print(f"  top-level modules imported ({len(modules)}): {', '.join(modules)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "runs": RUNS,
                "installed": "wheel, pip install (not editable), temporary venv",
                "median_ms": {name: round(value, 2) for name, value in medians.items()},
                "fastest_ms": {name: round(value, 2) for name, value in fastest.items()},
                "ratio_to_floor": round(ratio, 3),
                "ratio_to_floor_fastest": round(ratio_fastest, 3),
                "goal_ratio_to_floor": FLOOR_GOAL,
                "ratio_to_heavy_imports": round(heavy, 3),
                "top_level_modules": modules,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
