"""`build-metadata`: the record an RC build keeps of what it made, checked against its plan."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command
from pipelines.core.errors import InputError
from pipelines.edges.files import atomic_write_text, file_sha256, read_json_object, read_text
from pipelines.output import emit
from pipelines.plan.build_record import BuiltFile, build_metadata, parse_pushed_image


@dataclass(frozen=True)
class BuildMetadataRequest:
    plan: Path
    files: Path | None
    images: list[Path] | None
    out: Path
    benchmarks: Path | None
    json: bool


def _read_plan(path: Path) -> dict[str, Any]:
    plan = read_json_object(path, "plan", "python -m pipelines plan TAG --json")
    if "artifacts" not in plan:
        raise InputError(f"{path} is not a plan", hint="pass the output of `python -m pipelines plan TAG --json`")
    return plan


def _built_files(folder: Path) -> list[BuiltFile]:
    if not folder.is_dir():
        raise InputError(
            f"--files {folder} is not a folder", hint="pass the folder the build's files were collected in"
        )
    return [BuiltFile(p.name, file_sha256(p), p.stat().st_size) for p in sorted(folder.iterdir()) if p.is_file()]


def _lines(path: Path) -> list[str]:
    text = read_text(path, what="--images", fix="pass the files the push jobs wrote")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _build_metadata(request: BuildMetadataRequest) -> int:
    plan = _read_plan(request.plan)
    files = _built_files(request.files) if request.files else []
    images = [parse_pushed_image(line) for path in request.images or [] for line in _lines(path)]
    record = build_metadata(plan, files=files, images=images, run_id=os.environ.get("GITHUB_RUN_ID"))
    if request.benchmarks:
        from pipelines.perf.results import FIX, MAX_RESULTS_BYTES, parse_results, summary

        text = read_text(request.benchmarks, fix=FIX, limit=MAX_RESULTS_BYTES, what="--benchmarks")
        record["benchmarks"] = summary(parse_results(text, source=str(request.benchmarks)))
    atomic_write_text(request.out, json.dumps(record, indent=2) + "\n")
    made = record.get("files") or record.get("images") or []
    emit(
        request.json,
        record,
        f"wrote {request.out}: {record['tag']} at {record['commit'][:12]}, {len(made)} artifact(s)",
    )
    return 0


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "build-metadata",
        summary="write the build metadata JSON of an RC build, checked against its plan",
        description="Write the record an RC build keeps: tag, project, version, rc, commit, run number and id,\n"
        "and the files it built (name, sha256, size) or the images it pushed (platform, CalVer\n"
        "reference, digest). Every artifact of the plan must be there and nothing else (exit 1\n"
        "naming the difference; nothing is written). Each push job writes one line\n"
        "ARCH=REFERENCE@DIGEST to a file; --images reads those files.",
        request=BuildMetadataRequest,
        run=_build_metadata,
        examples="  python -m pipelines build-metadata --plan plan.json --files dist --out build-metadata.json\n"
        "  python -m pipelines build-metadata --plan plan.json --images pushed-*.txt --out build-metadata.json",
    )
    parser.add_argument("--plan", type=Path, required=True, metavar="FILE", help="the build's `plan TAG --json`")
    made = parser.add_mutually_exclusive_group(required=True)
    made.add_argument("--files", type=Path, metavar="DIR", help="the folder of built files (wheels and sdist)")
    made.add_argument(
        "--images", nargs="+", type=Path, metavar="FILE", help="files of pushed images, lines ARCH=REFERENCE@DIGEST"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the JSON")
    parser.add_argument(
        "--benchmarks", type=Path, metavar="FILE", help="pytest-benchmark JSON of the build: medians go into the record"
    )
