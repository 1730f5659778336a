"""The optional records of `dashboard --data DIR`: build metadata, staging records and benchmark results.

Every `*.json` under DIR (at any depth: the Pages workflow downloads each release's assets into a
folder named after its tag) is recognised by its shape:
- a build record (`build-metadata --out`): `tag`, `project`, `commit` and `files` or `images`;
  with `benchmarks` when the RC build ran them;
- a staging record (`staging record --json`): `"kind": "staging-record"`; or percolate-rocks' record of
  its RC on TestPyPI (`wheels staging-record`): `"kind": "wheel-staging-record"`;
- pytest-benchmark JSON (`benchmarks` and `machine_info`), attributed to the RC tag its folder or its
  file name starts with.
Anything else, or a record that does not hold together, is skipped with a note: a stray file must
not stop the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.core.errors import InputError
from pipelines.core.json_text import load_json
from pipelines.core.tags import ReleaseTag, parse_tag
from pipelines.dashboard.model import Artifact, BenchmarkPoint, StagingRun
from pipelines.perf.results import parse_results

MAX_RECORD_BYTES = 5 * 1024 * 1024


@dataclass
class Records:
    """What DIR held: artifacts per RC or release tag, the newest staging run per project, benchmark
    medians per RC tag, and notes on what was skipped."""

    artifacts: dict[str, tuple[Artifact, ...]] = field(default_factory=dict)
    staging: dict[str, StagingRun] = field(default_factory=dict)
    benchmarks: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# A tag at the start of a file name: `percolate-rocks-v0.2.0-rc1.benchmarks.json`.
_LEADING_TAG = re.compile(r"[a-z-]+-v[0-9]+\.[0-9]+\.[0-9]+(?:-rc[0-9]+)?")


def _tag_of(path: Path) -> ReleaseTag | None:
    """The tag a raw results file belongs to: its folder's name, or the tag its file name starts with."""
    leading = _LEADING_TAG.match(path.name)
    for candidate in (path.parent.name, leading.group(0) if leading else ""):
        try:
            return parse_tag(candidate)
        except InputError:
            continue
    return None


def _build_record(data: Mapping[str, Any], records: Records, where: str) -> None:
    tag = data.get("tag")
    try:
        parse_tag(str(tag))
    except InputError:
        records.notes.append(f"{where}: build record with a malformed tag {tag!r}; skipped")
        return
    artifacts: list[Artifact] = []
    for item in data.get("images") or []:
        if isinstance(item, Mapping) and isinstance(item.get("digest"), str):
            artifacts.append(Artifact(str(item.get("platform")), item["digest"]))
    for item in data.get("files") or []:
        if isinstance(item, Mapping) and isinstance(item.get("sha256"), str):
            artifacts.append(Artifact(str(item.get("name")), f"sha256:{item['sha256']}"))
    records.artifacts[str(tag)] = tuple(artifacts)
    medians = []
    for item in data.get("benchmarks") or []:
        median = item.get("median") if isinstance(item, Mapping) else None
        if isinstance(item, Mapping) and isinstance(item.get("name"), str) and type(median) in (int, float):
            medians.append((item["name"], float(median)))  # type: ignore[arg-type]
    if medians:
        records.benchmarks[str(tag)] = tuple(sorted(medians))


# An image's record (`staging record --json`) and percolate-rocks' (`wheels staging-record`, on its RC).
STAGING_KINDS = ("staging-record", "wheel-staging-record")


def _staging_record(data: Mapping[str, Any], records: Records, where: str) -> None:
    project, recorded = data.get("project"), _time(data.get("recorded_at"))
    if not isinstance(project, str) or recorded is None or data.get("result") not in ("passed", "failed"):
        records.notes.append(f"{where}: staging record without project, result or recorded_at; skipped")
        return
    run_url = data.get("run_url")
    run = StagingRun(
        build=str(data.get("build") or data.get("version")),  # a wheel record names the RC version
        result=str(data["result"]),
        recorded_at=recorded,
        digest=data.get("digest") if isinstance(data.get("digest"), str) else None,
        run_url=run_url if isinstance(run_url, str) and run_url.startswith("https://") else None,
    )
    newest = records.staging.get(project)
    if newest is None or run.recorded_at > newest.recorded_at:
        records.staging[project] = run


def read_records(folder: Path) -> Records:
    """Every record under `folder`, in a stable order (sorted paths)."""
    if not folder.is_dir():
        raise InputError(f"--data {folder} is not a folder", hint="pass the folder the records were downloaded to")
    records = Records()
    for path in sorted(folder.rglob("*.json")):
        where = str(path.relative_to(folder))
        try:
            if path.stat().st_size > MAX_RECORD_BYTES:
                records.notes.append(f"{where}: larger than {MAX_RECORD_BYTES} bytes; skipped")
                continue
            data = load_json(path.read_bytes())
        except (OSError, ValueError) as error:
            records.notes.append(f"{where}: not readable JSON ({error}); skipped")
            continue
        if not isinstance(data, Mapping):
            records.notes.append(f"{where}: not a JSON object; skipped")
        elif data.get("kind") in STAGING_KINDS:
            _staging_record(data, records, where)
        elif "benchmarks" in data and "machine_info" in data:
            tag = _tag_of(path)
            if tag is None:
                records.notes.append(f"{where}: benchmark results outside a folder named after their tag; skipped")
                continue
            try:
                run = parse_results(path.read_bytes(), source=where)
            except InputError as error:
                records.notes.append(f"{error.message}; skipped")
                continue
            records.benchmarks[tag.name] = tuple((r.name, r.median) for r in run.results)
        elif "tag" in data and ("files" in data or "images" in data):
            _build_record(data, records, where)
        else:
            records.notes.append(f"{where}: not a build record, staging record or benchmark results; skipped")
    return records


def benchmark_points(records: Records, dates: Mapping[str, datetime], project: str) -> tuple[BenchmarkPoint, ...]:
    """The benchmark medians of each of `project`'s tagged builds, oldest first (tags without a date in git are
    dropped)."""
    points = [
        BenchmarkPoint(tag, dates[tag], medians)
        for tag, medians in records.benchmarks.items()
        if tag in dates and parse_tag(tag).project == project
    ]
    return tuple(sorted(points, key=lambda p: (p.date, p.label)))
