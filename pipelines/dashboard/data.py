"""The optional records of `dashboard --data DIR`: build metadata, staging records and benchmark results.

Every `*.json` under DIR (at any depth: the Pages workflow downloads each release's assets into a
folder named after its tag) is recognised by its shape:
- a build record (`build-metadata --out`): `tag`, `project`, `commit` and `files` or `images`;
  with `benchmarks` when the RC build ran them;
- a staging record (`staging record --json`): `"kind": "staging-record"`; or percolate-rocks' record of
  its RC on TestPyPI (`wheels staging-record`): `"kind": "wheel-staging-record"`;
- pytest-benchmark JSON (`benchmarks` and `machine_info`), attributed to the RC tag its folder or its
  file name starts with.
Anything else, or a record that does not hold together (a field of the wrong type, a digest that is not
one, a time that is no point in UTC), is skipped with a note naming the file and the field: a stray file
must not stop the page. So is what is not a regular file (a FIFO, a socket, a device): it is never opened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.core.digests import is_digest
from pipelines.core.errors import InputError
from pipelines.core.json_text import load_json
from pipelines.core.tags import ReleaseTag, parse_tag
from pipelines.dashboard.model import Artifact, BenchmarkPoint, StagingRun
from pipelines.edges.files import read_bytes
from pipelines.edges.http_rules import shorten
from pipelines.perf.results import parse_results, parse_summary

MAX_RECORD_BYTES = 5 * 1024 * 1024


@dataclass
class Records:
    """What DIR held: artifacts per RC or release tag, the newest staging run per project and every staging
    run per project, benchmark medians per RC tag, and notes on what was skipped."""

    artifacts: dict[str, tuple[Artifact, ...]] = field(default_factory=dict)
    staging: dict[str, StagingRun] = field(default_factory=dict)
    staging_runs: dict[str, list[StagingRun]] = field(default_factory=dict)
    benchmarks: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


TEXT_LIMIT = 200  # the characters of one string from a record the page keeps


def capped(value: str, limit: int = TEXT_LIMIT) -> str:
    """`value`, or its first `limit` characters and how many were cut: one record field cannot fill the page."""
    return value if len(value) <= limit else f"{value[:limit]}… (+{len(value) - limit} characters)"


class _Unfit(ValueError):
    """A record field of the wrong shape; the message names the field."""


def _time(text: Any) -> datetime | None:
    """An ISO 8601 time in UTC (UTC when it names no zone); None for anything else, including a time whose
    offset moves it outside the years datetime holds (0001-01-01T00:00:00+05:00)."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _items(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The list of objects under `key` (none when absent or null); _Unfit when it is anything else."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise _Unfit(f"{key} is not a list of objects")
    return value


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _Unfit(f"{where} has no {key}")
    return value


def _artifacts(data: Mapping[str, Any]) -> tuple[Artifact, ...]:
    """A build record's images (platform and digest) and files (name and sha256); _Unfit naming the first
    entry that is not one."""
    artifacts = []
    for index, item in enumerate(_items(data, "images")):
        digest = _text(item, "digest", f"images[{index}]")
        if not is_digest(digest):
            raise _Unfit(f"images[{index}].digest is not a sha256 digest")
        artifacts.append(Artifact(capped(_text(item, "platform", f"images[{index}]")), digest))
    for index, item in enumerate(_items(data, "files")):
        digest = f"sha256:{_text(item, 'sha256', f'files[{index}]')}"
        if not is_digest(digest):
            raise _Unfit(f"files[{index}].sha256 is not 64 hex digits")
        artifacts.append(Artifact(capped(_text(item, "name", f"files[{index}]")), digest))
    return tuple(artifacts)


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
        tag = parse_tag(tag if isinstance(tag, str) else "").name
    except InputError:
        records.notes.append(f"{where}: build record with a malformed tag {shorten(str(tag), 80)!r}; skipped")
        return
    try:
        artifacts = _artifacts(data)
        benchmarks = [] if data.get("benchmarks") is None else data["benchmarks"]
        medians = [(capped(r.name), r.median) for r in parse_summary(benchmarks, source="the record")]
    except (_Unfit, InputError) as error:
        reason = error.message if isinstance(error, InputError) else str(error)
        records.notes.append(f"{where}: build record of {tag} does not hold together ({reason}); skipped")
        return
    records.artifacts[tag] = artifacts
    if medians:
        records.benchmarks[tag] = tuple(sorted(medians))


# An image's record (`staging record --json`) and percolate-rocks' (`wheels staging-record`, on its RC).
STAGING_KINDS = ("staging-record", "wheel-staging-record")


def _staging_record(data: Mapping[str, Any], records: Records, where: str) -> None:
    project, recorded, result = data.get("project"), _time(data.get("recorded_at")), data.get("result")
    build = data.get("build") or data.get("version")  # a wheel record names the RC version
    if not isinstance(project, str) or recorded is None or not isinstance(result, str) or not isinstance(build, str):
        records.notes.append(f"{where}: staging record without project, build, result or recorded_at; skipped")
        return
    if result not in ("passed", "failed"):
        records.notes.append(f"{where}: staging record whose result is neither passed nor failed; skipped")
        return
    digest, run_url = data.get("digest"), data.get("run_url")
    run = StagingRun(
        build=capped(build),
        result=result,
        recorded_at=recorded,
        digest=digest if isinstance(digest, str) and is_digest(digest) else None,
        run_url=capped(run_url) if isinstance(run_url, str) and run_url else None,
    )
    records.staging_runs.setdefault(project, []).append(run)
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
            raw = read_bytes(path, fix="", limit=MAX_RECORD_BYTES)
        except InputError as error:
            records.notes.append(f"{error.message}; skipped")
            continue
        try:
            data = load_json(raw)
        except ValueError as error:
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
                run = parse_results(raw, source=where)
            except InputError as error:
                records.notes.append(f"{error.message}; skipped")
                continue
            records.benchmarks[tag.name] = tuple((capped(r.name), r.median) for r in run.results)
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
