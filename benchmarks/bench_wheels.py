"""Re-versioning one large wheel: `pipelines.wheels.reversion.rewrite_wheel` next to `wheel unpack`, an edit
and `wheel pack`.

The wheel is synthetic but valid: a 24 MiB binary member (half random, half
zeros, so it compresses like a real extension) and 400 small Python modules, with
a RECORD. The peer is what a person would do by hand with the `wheel` tool: unpack,
rename the .dist-info folder, edit METADATA, pack (which rehashes every member).
The peer runs as two processes, so the interpreter's start-up is measured too and
printed beside it. Prints the medians and writes benchmarks/results/wheels.json.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.wheels.reversion import rewrite_wheel  # noqa: E402 - after the path setup
from pipelines.wheels.select import parse_wheel_filename  # noqa: E402

RUNS = 5
RESULTS = ROOT / "benchmarks" / "results" / "wheels.json"
RC, FINAL = "0.2.0rc3", "0.2.0"
NAME = f"percolate_rocks-{RC}-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def make_wheel(folder: Path) -> Path:
    dist_info = f"percolate_rocks-{RC}.dist-info"
    members = {
        "percolate_rocks/_core.abi3.so": os.urandom(12 << 20) + bytes(12 << 20),
        **{f"percolate_rocks/m{i}.py": f"VALUE = {i}\n".encode() * 50 for i in range(400)},
        f"{dist_info}/METADATA": f"Metadata-Version: 2.4\nName: percolate-rocks\nVersion: {RC}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: false\n"
        b"Tag: cp39-abi3-manylinux_2_17_x86_64\nTag: cp39-abi3-manylinux2014_x86_64\n",
    }
    rows = []
    for name, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}\n")
    members[f"{dist_info}/RECORD"] = ("".join(rows) + f"{dist_info}/RECORD,,\n").encode()
    path = folder / NAME
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def ours(wheel: Path, out: Path) -> None:
    name = parse_wheel_filename(wheel.name)
    rewrite_wheel(wheel, out, name, name.with_version(FINAL))


def peer(wheel: Path, out: Path) -> None:
    work = out / "unpacked"
    subprocess.run(
        [sys.executable, "-m", "wheel", "unpack", "-d", str(work), str(wheel)], check=True, capture_output=True
    )
    (tree,) = work.iterdir()
    old = tree / f"percolate_rocks-{RC}.dist-info"
    new = tree / f"percolate_rocks-{FINAL}.dist-info"
    old.rename(new)
    metadata = new / "METADATA"
    metadata.write_text(metadata.read_text().replace(f"Version: {RC}", f"Version: {FINAL}"))
    subprocess.run([sys.executable, "-m", "wheel", "pack", "-d", str(out), str(tree)], check=True, capture_output=True)


def _time(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_seconds(action, wheel: Path, scratch: Path) -> float:
    samples = []
    for run in range(RUNS + 1):
        out = scratch / f"{action.__name__}-{run}"
        out.mkdir()
        start = time.perf_counter()
        action(wheel, out)
        elapsed = time.perf_counter() - start
        if run:  # the first run warms the file cache
            samples.append(elapsed)
        shutil.rmtree(out)
    return statistics.median(samples)


def main() -> int:
    with tempfile.TemporaryDirectory() as temp:
        scratch = Path(temp)
        wheel = make_wheel(scratch)
        size = wheel.stat().st_size
        floor = statistics.median(
            _time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)) for _ in range(RUNS)
        )
        figures = {"pipelines rewrite_wheel": median_seconds(ours, wheel, scratch)}
        figures["wheel unpack + edit + wheel pack"] = median_seconds(peer, wheel, scratch)
    ratio = figures["wheel unpack + edit + wheel pack"] / figures["pipelines rewrite_wheel"]
    for label, seconds in figures.items():
        print(f"{label:36s} {seconds * 1000:8.1f} ms")
    print(f"{'(interpreter start-up, x2 in the peer)':36s} {floor * 1000:8.1f} ms")
    print(f"peer / pipelines: {ratio:.2f}x on a {size / 2**20:.1f} MiB wheel, median of {RUNS}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "wheel_bytes": size,
                "runs": RUNS,
                "median_seconds": figures,
                "interpreter_startup_seconds": floor,
                "peer_over_pipelines": ratio,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
