"""Cold start of `python -m pipelines tag parse`: the command every workflow run starts with.

Measures the median wall time over repeated fresh processes, next to two peers run
in the same script: the bare interpreter (the floor) and a process that imports
pulumi and requests (what the CLI would pay if it loaded them up front). Prints
the figures and writes them to benchmarks/results/cli_startup.json.
"""

from __future__ import annotations

import compileall
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 30
FLOOR_GOAL = 3.0  # tag parse may take at most this many times a bare interpreter's start
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "cli_startup.json"

COMMANDS = {
    "interpreter floor (python -c pass)": [sys.executable, "-c", "pass"],
    "pipelines tag parse": [
        sys.executable,
        "-m",
        "pipelines",
        "tag",
        "parse",
        "percolate-reading-v0.1.0-rc2",
        "--json",
    ],
    "import pulumi + requests": [sys.executable, "-c", "import pulumi, requests"],
}


def median_seconds(command: list[str]) -> float:
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # warm the file cache once
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def imported_modules() -> list[str]:
    """Top-level packages `tag parse` imports, from the interpreter's own -X importtime report."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *COMMANDS["pipelines tag parse"][1:]],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    return sorted(names - {"imported"})


def main() -> int:
    # Measured as installed: pip compiles the bytecode then; without it every start would compile again.
    compileall.compile_dir(ROOT / "pipelines", quiet=1)
    medians = {name: median_seconds(command) for name, command in COMMANDS.items()}
    floor = medians["interpreter floor (python -c pass)"]
    ours = medians["pipelines tag parse"]
    heavy = medians["import pulumi + requests"]
    modules = imported_modules()
    print(f"median of {RUNS} cold starts:")
    for name, seconds in medians.items():
        print(f"  {name:<36} {seconds * 1000:8.1f} ms")
    met = "met" if ours / floor <= FLOOR_GOAL else "NOT met"
    print(f"  tag parse / interpreter floor        {ours / floor:8.2f}x (goal at most {FLOOR_GOAL:.1f}x: {met})")
    print(f"  tag parse / import pulumi + requests {ours / heavy:8.2f}x")
    print(f"  pulumi imported: {'pulumi' in modules}; requests imported: {'requests' in modules}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "runs": RUNS,
                "median_ms": {name: round(seconds * 1000, 2) for name, seconds in medians.items()},
                "ratio_to_floor": round(ours / floor, 3),
                "ratio_to_heavy_imports": round(ours / heavy, 3),
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
