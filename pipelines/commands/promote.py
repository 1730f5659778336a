"""`promote TAG`: copy the newest complete RC build of an image project to its release tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.commands.arguments import (
    add_command,
    add_max_time_option,
    add_registry_option,
    add_root_option,
    digest_argument,
)
from pipelines.commands.checkout import check_root, optional_checkout
from pipelines.core.catalog import STACK_CONFIG_FILE, get_image_project, get_project, image_projects
from pipelines.core.errors import InputError
from pipelines.core.tags import ReleaseTag, Stage, parse_tag
from pipelines.core.values import Value
from pipelines.edges.background import Background
from pipelines.images.prefetch import Prefetch
from pipelines.output import actions_outputs, emit, progress

if TYPE_CHECKING:
    from pipelines.images.registry.client import RegistryClient
    from pipelines.images.registry.manifests import Manifest
    from pipelines.images.rules import Build
    from pipelines.staging.record import StagingRecord


class PromoteRequest(Value):
    tag: str
    registry: str
    stack_config: Path | None
    dry_run: bool
    allow_commit_mismatch: bool
    require_staging: bool
    staging_record: str | None
    max_time: float
    root: Path | None
    json: bool


def _release_tag(text: str) -> ReleaseTag:
    """Only the release tag of an image project can be promoted."""
    tag = parse_tag(text)
    project = get_project(tag.project)
    if not project.ships_images:
        raise InputError(
            f"{tag.name} is a tag of {project.name}, which ships wheels, not images",
            hint=f"promote takes a release tag of {' or '.join(p.name for p in image_projects())}; "
            f"wheels are promoted with `python -m pipelines wheels promote`",
        )
    if tag.stage is not Stage.RELEASE:
        raise InputError(
            f"{tag.name} is an RC tag: RC tags start builds, and release tags promote them",
            hint=f"promote the release tag {tag.project}-v{tag.version.release}",
        )
    return tag


def _checkout_commit(root: Path | None, release_tag: str) -> tuple[bool, str | None, datetime | None]:
    """Whether there is a checkout (at --root or around the working directory), and the commit of
    `release_tag` in it and its committer time (None when the tag is not there)."""
    git = optional_checkout(root)
    found = git.commit_and_time(f"refs/tags/{release_tag}") if git is not None else None
    return git is not None, *(found or (None, None))


def staging_reads(records: int) -> int:
    """The requests of the staging check: the referrers API, the referrers tag, and each record's manifest."""
    return 2 + records


def _staging_gate(
    client: RegistryClient,
    repository: str,
    project: str,
    expected: str | None,
    tags: Callable[[], Iterable[str]],
    found: list[StagingRecord],
) -> Callable[[Build, Manifest | None], None]:
    """The check promote runs on the chosen build before writing: its newest staging record passed.
    `tags` gives the tag list promote read, which holds every record's own tag."""
    from pipelines.staging.store import require_staging

    def gate(build: Build, build_index: Manifest | None) -> None:
        found.extend(
            require_staging(
                client, repository, project, build.name, build_index, tags(), expected=expected, say=progress
            )
        )

    return gate


def describe(data: dict[str, Any]) -> str:
    """The result as people read it."""
    verb = "would promote" if data["dry_run"] else "promoted"
    written, unchanged = set(data["tags_written"]), set(data["tags_unchanged"])

    def state(tag: str) -> str:
        if tag in written:
            return "would write" if data["dry_run"] else "written"
        return "unchanged" if tag in unchanged else "-"

    version = data["version"]
    lines = [
        f"{verb} {data['project']} {version} from build {data['source']}",
        f"  repository  {data['repository']}",
        f"  commit      {data['commit_check']['status']}: {data['commit_check']['detail']}",
    ]
    for arch, digest in data["platforms"].items():
        lines.append(f"  {version}-{arch:<8} {digest}  {state(f'{version}-{arch}')}")
    origin = "the build's own index" if data["from_build_index"] else "multi-arch index"
    lines.append(f"  {version:<14} {data['index_digest']}  {state(version)} ({origin})")
    if "staging_record" in data:
        record = data["staging_record"]
        lines.append(f"  staging     {record['result']} at {record['recorded_at']} (record {record['digest']})")
    lines += [f"  skipped     {build}" for build in data["skipped_builds"]]
    lines += [f"  note        {note}" for note in data["notes"]]
    requests = data["requests"]
    lines.append(
        f"  requests    {requests['total']} (budget {requests['budget']}: 1 read per platform + 3 per tag written + "
        f"the index checked again + the platform tags read again + {requests['tag_list_pages']} tag-list "
        f"page(s)); {requests['retries']} retries; blob bytes read {requests['blob_bytes_read']}, written 0"
    )
    lines.append(f"  deploy as   {data['image']}")
    return "\n".join(lines)


def _github_output(data: dict[str, Any]) -> dict[str, str]:
    return {
        "version": data["version"],
        "source-build": data["source"],
        "repository": data["repository"],
        "index-digest": data["index_digest"],
        "image": data["image"],
        **{f"digest-{arch}": digest for arch, digest in data["platforms"].items()},
        "tags-written": " ".join(data["tags_written"]),
        "dry-run": str(data["dry_run"]).lower(),
    }


def _step_summary(data: dict[str, Any]) -> str:
    version = data["version"]
    title = "Dry run: would promote" if data["dry_run"] else "Promoted"
    rows = [(f"{version}-{arch}", digest) for arch, digest in data["platforms"].items()]
    rows.append((version, data["index_digest"]))
    written = set(data["tags_written"])
    table = "\n".join(
        f"| `{tag}` | `{digest}` | {'written' if tag in written else 'unchanged'} |" for tag, digest in rows
    )
    return (
        f"### {title} {data['project']} {version}\n\n"
        f"From RC build `{data['source']}` in `{data['repository']}`.\n\n"
        f"| tag | digest | this run |\n|---|---|---|\n{table}\n\n"
        f"Commit check: {data['commit_check']['status']}. Requests: {data['requests']['total']}.\n"
    )


def _promote(request: PromoteRequest) -> int:
    tag = _release_tag(request.tag)
    if request.staging_record and not request.require_staging:
        raise InputError(
            "--staging-record names the record the staging requirement must find",
            hint="add --require-staging",
        )
    project = get_project(tag.project)
    # Modules are imported here, as the command needs them: each workflow step is a fresh process, and
    # the stack file (with YAML and the deploy rules) is only read with --stack-config.
    stack = None
    if request.stack_config is not None:
        from pipelines.deploy.rules import refuse_blocked
        from pipelines.deploy.write_back import StackFile

        # The stack file is read and its blocked versions checked before the registry is touched.
        stack = StackFile(request.stack_config)
        if not request.dry_run:
            stack.check_writable()  # a write-back that cannot happen is refused before any registry write
        refuse_blocked(stack.pin(project.name), tag.version.release)

    check_root(request.root)
    from pipelines.images.registry.connect import connect

    staging: list[StagingRecord] = []
    with connect(request.registry, push=not request.dry_run, max_time=request.max_time, say=progress) as client:
        repository = client.location.repository(str(get_image_project(project.name).image_name))
        progress(f"listing the tags of {client.location.host}/{repository}")
        # The tag list is most of a promotion's round trips: its pages are fetched (and the likely
        # build read ahead) while the rest of the code loads and git answers.
        with (
            Background(partial(_checkout_commit, request.root, tag.name)) as checkout,
            Prefetch(
                client,
                repository,
                tag.version,
                project.platforms,
                check=not request.require_staging,
                committed_at=lambda: checkout.result()[2],
            ) as prefetch,
        ):
            from pipelines.images.release import promote_release

            in_checkout, commit, _ = checkout.result()
            gate = (
                _staging_gate(
                    client, repository, project.name, request.staging_record, lambda: prefetch.listing().tags, staging
                )
                if request.require_staging
                else None
            )
            result = promote_release(
                project,
                tag.version,
                client,
                release_tag=tag.name,
                release_commit=commit,
                in_checkout=in_checkout,
                allow_commit_mismatch=request.allow_commit_mismatch,
                dry_run=request.dry_run,
                gate=gate,
                say=progress,
                prefetch=prefetch,
            )
        stats = client.stats
    data = result.to_dict()
    if staging:
        data["staging_record"] = staging[0].to_dict(result.repository)
    from pipelines.images.rules import request_budget

    budget = request_budget(
        len(project.platforms),
        stats.tag_list_pages,
        build_index=result.from_build_index,
        other_reads=staging_reads(len(staging)) if request.require_staging else 0,
    )
    data["requests"] = {**stats.to_dict(), "budget": budget}
    if stack is not None:
        from pipelines.deploy.rules import apply_release, release_pin

        changed = stack.write_pin(apply_release(stack.pin(project.name), release_pin(data)), dry_run=request.dry_run)
        data["stack_config"] = {"file": str(stack.path), "changed": changed}
    emit(request.json, data, describe(data))
    actions_outputs(_github_output(data), _step_summary(data))
    return 0


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "promote",
        summary="copy the newest complete RC build of an image to its release tags",
        description="Promote the release TAG of an image project (percolate or percolate-reading):\n"
        "find the newest RC build of its version that has every platform (newer incomplete builds are\n"
        "skipped and reported), check that TAG's commit is that build's commit, copy each platform's\n"
        "manifest byte for byte to {VERSION}-{ARCH}, and copy the build's own index (written by build-index\n"
        "at the build's CalVer stem, the digest staging ran) byte for byte to {VERSION}; a build without\n"
        "one gets a new multi-arch OCI index. With --require-staging the build's newest staging record\n"
        "must say passed (see `staging show`), checked before anything is written.\n"
        "No blob is copied. A release tag that holds another digest is never moved (exit 1, nothing\n"
        "written); tags that hold the right digest are left alone, so a re-run completes a failed run\n"
        "and is otherwise a no-op. Transient registry faults are retried within --max-time.\n"
        "Credentials: REGISTRY_USERNAME and REGISTRY_PASSWORD, else GITHUB_TOKEN for ghcr.io, else\n"
        "the Docker config (auths); anonymous when none. Plain HTTP only for loopback registries.\n"
        "With --stack-config FILE the digests are then written into the file's images subtree (only\n"
        "that entry changes; comments and every other byte stay).\n"
        "In GitHub Actions the digests become step outputs (GITHUB_OUTPUT) and a summary table\n"
        "(GITHUB_STEP_SUMMARY). Exit 1 when a check fails, 2 for a TAG that is not an image release.",
        request=PromoteRequest,
        run=_promote,
        examples="  python -m pipelines promote percolate-v0.1.0\n"
        "  python -m pipelines promote percolate-reading-v1.2.0 --dry-run --json\n"
        "  python -m pipelines promote percolate-v0.1.0 --registry 127.0.0.1:5000/percolation-labs\n"
        "  python -m pipelines promote percolate-v0.2.0 --require-staging --staging-record sha256:…\n"
        "  python -m pipelines promote percolate-v0.1.0 --stack-config Pulumi.prod.yaml --json > promote.json",
    )
    parser.add_argument("tag", metavar="TAG", help="the release tag, e.g. percolate-v0.1.0")
    add_registry_option(parser)
    parser.add_argument(
        "--stack-config",
        type=Path,
        metavar="FILE",
        help=f"then write the digests into images.PROJECT of FILE (e.g. {STACK_CONFIG_FILE}); a version blocked "
        "there by a rollback is refused before the registry is touched",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and check everything, print the plan, write nothing"
    )
    parser.add_argument(
        "--allow-commit-mismatch",
        action="store_true",
        help="promote even when TAG's commit is not the build's commit (or TAG is not in the checkout)",
    )
    parser.add_argument(
        "--require-staging",
        action="store_true",
        help="refuse (exit 1, nothing written) a build whose newest staging record is missing or failed",
    )
    parser.add_argument(
        "--staging-record",
        type=digest_argument,
        metavar="sha256:DIGEST",
        help="with --require-staging: also refuse unless the newest record is this one (the one whose "
        "signature the workflow verified)",
    )
    add_max_time_option(parser)
    add_root_option(parser)
