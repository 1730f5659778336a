"""`staging record` and `staging show`: the outcome of an RC build's integration tests in staging, in the registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, add_group, add_max_time_option, add_registry_option
from pipelines.commands.environment import actions_run_url, now
from pipelines.core.catalog import get_image_project, image_projects
from pipelines.core.errors import InputError
from pipelines.output import actions_outputs, emit, progress

MAX_REPORT_BYTES = 8 << 20


@dataclass(frozen=True)
class RecordRequest:
    project: str
    build: str
    result: str
    report: Path | None
    run_url: str | None
    registry: str
    max_time: float
    json: bool


@dataclass(frozen=True)
class ShowRequest:
    tag: str
    registry: str
    max_time: float
    json: bool


def _run_url(given: str | None) -> str | None:
    """--run-url, else this Actions run's page, else none; one line of printable text either way."""
    from pipelines.staging.record import check_field

    if given and not given.startswith("https://"):
        raise InputError(f"--run-url {given!r} is not an https URL", hint="pass the workflow run's page")
    url = given or actions_run_url()
    return (
        check_field("--run-url" if given else "the run URL (GITHUB_SERVER_URL, GITHUB_REPOSITORY)", url)
        if url
        else None
    )


def _report(path: Path | None) -> Any:
    from pipelines.edges.files import read_bytes
    from pipelines.staging.record import check_field
    from pipelines.staging.store import Report

    if path is None:
        return None
    check_field("the name of --report", path.name)
    if not path.is_file():
        raise InputError(f"--report {path} is not a file", hint="pass the test report, e.g. pytest's --junitxml file")
    # Read no further than the limit: a report of gigabytes must not fill the memory before it is refused.
    data = read_bytes(
        path, what="--report", limit=MAX_REPORT_BYTES, fix="store the JUnit XML report (at most 8 MiB), not logs"
    )
    return Report(path.name, data)


def _record(request: RecordRequest) -> int:
    from pipelines.core.calver import check_build_stem
    from pipelines.images.registry.connect import connect
    from pipelines.staging.record import parse_outcome
    from pipelines.staging.store import write_record

    project = get_image_project(request.project)
    stem = check_build_stem(request.build)
    outcome = parse_outcome(request.result)
    report = _report(request.report)
    run_url = _run_url(request.run_url)
    with connect(request.registry, push=True, max_time=request.max_time, say=progress) as client:
        repository = client.location.repository(str(project.image_name))
        record = write_record(
            client,
            repository,
            project=project.name,
            build=stem,
            outcome=outcome,
            at=now(),
            run_url=run_url,
            report=report,
            say=progress,
        )
    data = record.to_dict(f"{client.location.host}/{repository}")
    emit(
        request.json,
        data,
        f"recorded staging {data['result']} for build {stem} of {project.name}\n"
        f"  subject  {data['subject']} (the build index)\n  record   {data['reference']}",
    )
    actions_outputs({"digest": record.digest, "reference": data["reference"], "subject": record.subject})
    return 0


def _show(request: ShowRequest) -> int:
    from pipelines.core.tags import parse_tag
    from pipelines.core.versions import parse_release
    from pipelines.images.registry.connect import connect
    from pipelines.images.rules import choose_build
    from pipelines.staging.record import newest_first
    from pipelines.staging.store import find_records

    tag = parse_tag(request.tag)
    project = get_image_project(tag.project)
    version = parse_release(tag.version.release)
    with connect(request.registry, push=False, max_time=request.max_time, say=progress) as client:
        repository = client.location.repository(str(project.image_name))
        listing = client.list_tags(repository)
        build = choose_build(listing.tags, version, project.platforms).build
        subject = client.head_manifest(repository, build.name) if build.name in listing.tags else None
        records = newest_first(find_records(client, repository, subject, listing.tags)) if subject else ()
    full = f"{client.location.host}/{repository}"
    newest = records[0].to_dict(full) if records else None
    data = {
        "project": project.name,
        "version": version.release,
        "build": build.name,
        "subject": subject,
        "passed": bool(records) and records[0].passed,
        "newest": newest,
        "records": [record.to_dict(full) for record in records],
    }
    emit(request.json, data, describe(data))
    if newest is not None:
        actions_outputs({"record-digest": newest["digest"], "record-reference": newest["reference"]})
    return 0 if data["passed"] else 1


def describe(data: dict[str, Any]) -> str:
    lines = [f"{data['project']} {data['version']}: build {data['build']}"]
    if data["subject"] is None:
        lines.append("  no build index: this build never ran in staging")
    else:
        lines.append(f"  build index {data['subject']}")
        lines += [
            f"  {r['recorded_at']}  {r['result']:<6}  {r['digest']}  {r['run_url'] or ''}" for r in data["records"]
        ]
        if not data["records"]:
            lines.append("  no staging record yet")
    verdict = "may be released" if data["passed"] else "may NOT be released (promote --require-staging refuses it)"
    lines.append(f"  {verdict}")
    return "\n".join(lines)


def register(subcommands: Any) -> None:
    names = " or ".join(p.name for p in image_projects())
    group = add_group(subcommands, "staging", summary="record and show how RC builds did in staging")
    record = add_command(
        group,
        "record",
        summary="store the outcome of a build's integration tests in staging",
        description=f"Store in the registry that build STEM of PROJECT ({names}) passed or failed its\n"
        "integration tests in staging: an OCI artifact whose subject is the build's index (written by\n"
        "build-index), with the outcome, the time, the workflow run and the test report. It is stored\n"
        "under a tag of its own (sha256-<subject>.staging.<record>), so that no concurrent run can lose\n"
        "it, and listed through the registry's referrers API, or the OCI 1.1 referrers tag sha256-<hex>\n"
        "where the registry has none. Sign the printed reference with cosign in the same job; releases verify\n"
        "that signature, then promote only a build whose newest record passed.\n"
        "In GitHub Actions the record's digest and reference become step outputs.",
        request=RecordRequest,
        run=_record,
        examples='  python -m pipelines staging record percolate --build "$STEM" --result passed --report junit.xml\n'
        '  cosign sign --yes "$(python -m pipelines staging record percolate --build "$STEM" --result failed '
        '--json | jq -r .reference)"',
    )
    record.add_argument("project", metavar="PROJECT", help=f"an image project: {names}")
    record.add_argument("--build", required=True, metavar="STEM", help="the build's CalVer tag without architecture")
    record.add_argument("--result", required=True, choices=["passed", "failed"], help="what the integration tests said")
    record.add_argument("--report", type=Path, metavar="FILE", help="the test report (JUnit XML) to keep with it")
    record.add_argument(
        "--run-url", metavar="URL", help="the workflow run's page (default: this GitHub Actions run, when in one)"
    )
    add_registry_option(record)
    add_max_time_option(record)

    show = add_command(
        group,
        "show",
        summary="the staging records of the build a release would promote",
        description="Choose the build of TAG's version the way promote does (the newest complete build),\n"
        "and list its staging records, newest first. Exit 0 when the newest says passed, 1 otherwise\n"
        "(no build index, no record, or a failure). The release workflows verify the newest record's\n"
        "signature (step outputs record-digest and record-reference) before they promote.",
        request=ShowRequest,
        run=_show,
        examples="  python -m pipelines staging show percolate-v0.2.0\n"
        "  python -m pipelines staging show percolate-reading-v1.3.0 --json",
    )
    show.add_argument("tag", metavar="TAG", help="a release or RC tag of an image project, e.g. percolate-v0.2.0")
    add_registry_option(show)
    add_max_time_option(show)
