"""Carrying out an image promotion: read the registry, apply the rules of `pipelines.images.rules`, write.

`promote_release` is the library entry point: the `promote` command calls it, and so
can the deployment stage that writes the digests into the stack config. The order
keeps the registry safe: every read and every check (build chosen, commit, platforms,
release tags that would move) happens before the first write, platform tags are
written before the index that lists them, and a re-run skips what already holds the
right digest, so a run that failed half-way is completed by the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from functools import partial
from typing import TypeVar

from pipelines.core.catalog import Project, get_image_project
from pipelines.core.release_commit import check_commit
from pipelines.core.versions import ProjectVersion
from pipelines.images.manifests import Manifest, Platform, platform_of_config
from pipelines.images.registry.client import RegistryClient
from pipelines.images.rules import (
    Build,
    PlatformSource,
    PromotionPlan,
    PromotionResult,
    TagWrite,
    check_index_image,
    choose_build,
    describe_skipped,
    moved_meanwhile,
    plan_promotion,
    release_tags,
    source_from_image,
    source_from_index,
)

T = TypeVar("T")


def _config_platform(client: RegistryClient, repository: str, image: Manifest, build_tag: str) -> Platform:
    config = image.config()
    return platform_of_config(client.get_blob(repository, config.digest), f"config {config.digest} of {build_tag}")


def read_platform_source(client: RegistryClient, repository: str, arch: str, build_tag: str) -> PlatformSource:
    manifest = client.get_manifest(repository, build_tag)
    if manifest.is_index:
        # The index's platform entry is only a claim: the image's own config says what it is.
        source = source_from_index(build_tag, arch, manifest)
        image = client.get_manifest(repository, source.entry.digest)
        check_index_image(build_tag, source, _config_platform(client, repository, image, build_tag))
        return source
    return source_from_image(build_tag, arch, manifest, _config_platform(client, repository, manifest, build_tag))


def _at_once(pool: Executor, calls: Iterable[Callable[[], T]]) -> list[T]:
    """Send independent requests at the same time; every one has finished before the first error is raised."""
    futures = [pool.submit(call) for call in calls]
    wait(futures)
    return [future.result() for future in futures]


def put_and_read_back(
    client: RegistryClient,
    repository: str,
    write: TagWrite,
    say: Callable[[str], None],
    *,
    what: str = "release tag",
    who: str = "promote",
) -> None:
    """PUT one tag, then read it back: another run that wrote it right after us is reported, never ignored."""
    wanted = write.manifest.digest
    say(f"writing {write.tag} -> {wanted}")
    client.put_manifest(repository, write.tag, write.manifest)
    now = client.head_manifest(repository, write.tag)
    if now != wanted:
        raise moved_meanwhile(write.tag, now, wanted, written=True, what=what, who=who)


def _write_tag(client: RegistryClient, repository: str, write: TagWrite, say: Callable[[str], None]) -> None:
    """PUT one release tag, unless another run wrote it since we looked; read it back after.

    Another promote of the same version may run at once (a re-run, a second workflow): the tag is
    checked right before its PUT and read back after it, so that neither run silently moves what
    the other wrote.
    """
    now = client.head_manifest(repository, write.tag)
    if now is None:
        put_and_read_back(client, repository, write, say)
    elif now != write.manifest.digest:
        raise moved_meanwhile(write.tag, now, write.manifest.digest, written=False)


def write_release_tags(
    client: RegistryClient, repository: str, plan: PromotionPlan, pool: Executor, say: Callable[[str], None]
) -> None:
    """The release tags the plan needs: the platform tags at once, then, once they all hold the right digest,
    the index that lists them (what deploys pin)."""
    index_tag = plan.writes[-1].tag
    _at_once(pool, [partial(_write_tag, client, repository, w, say) for w in plan.to_write if w.tag != index_tag])
    for write in plan.to_write:
        if write.tag == index_tag:
            _write_tag(client, repository, write, say)


def promote_release(
    project: Project,
    version: ProjectVersion,
    client: RegistryClient,
    *,
    release_tag: str,
    release_commit: str | None,
    in_checkout: bool,
    allow_commit_mismatch: bool = False,
    dry_run: bool = False,
    gate: Callable[[Build, Manifest | None], None] | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> PromotionResult:
    """Promote the newest complete RC build of `version` to its release tags; CheckFailed when it must not.

    `release_commit` is the commit `release_tag` points at in the checkout (None when the
    tag is not there); `in_checkout` False skips the commit check. `gate` sees the chosen build
    and its build index (None when it has none) before anything is written, and raises to refuse
    it (the staging requirement). A dry run reads and checks everything and writes nothing.
    """
    image_name = str(get_image_project(project.name).image_name)
    repository = client.location.repository(image_name)
    full_name = f"{client.location.host}/{repository}"
    say(f"listing the tags of {full_name}")
    listing = client.list_tags(repository)
    say(f"  {len(listing.tags)} tags in {listing.pages} page(s)")
    choice = choose_build(listing.tags, version, project.platforms)
    skipped = describe_skipped(choice, project.platforms)
    for line in skipped:
        say(f"skipping incomplete build {line}")
    build = choice.build
    say(f"newest complete build of {version.release}: {build.name}")
    commit = check_commit(
        f"build {build.name}",
        build.sha,
        release_tag,
        release_commit,
        in_checkout=in_checkout,
        allow_mismatch=allow_commit_mismatch,
    )
    say(f"commit check {commit.status.value}: {commit.detail}")
    present = set(listing.tags)
    tags = release_tags(version, project.platforms)
    with ThreadPoolExecutor(max_workers=2 * len(project.platforms) + 2) as pool:
        # Independent reads go out at once: the build index, release tags that exist already, and each
        # platform's chain of reads (its tag, its image, its config).
        index_read = pool.submit(client.get_manifest, repository, build.name) if build.name in present else None
        heads = {tag: pool.submit(client.head_manifest, repository, tag) for tag in tags if tag in present}
        for arch in project.platforms:
            say(f"reading {arch}: {build.tag_for(arch).tag}")
        sources = _at_once(
            pool,
            [partial(read_platform_source, client, repository, a, build.tag_for(a).tag) for a in project.platforms],
        )
        existing = {tag: heads[tag].result() if tag in heads else None for tag in tags}
        build_index = index_read.result() if index_read is not None else None
        if build_index is not None:
            say(f"build index {build.name}: {build_index.digest} (what staging ran); {version.release} gets its bytes")
        if gate is not None:
            gate(build, build_index)
        plan = plan_promotion(build, version, sources, existing, build_index)
        notes = tuple(source.note for source in plan.sources if source.note)
        for note in notes:
            say(note)
        for write in plan.unchanged:
            say(f"{write.tag} already holds {write.manifest.digest}: unchanged")
        if dry_run:
            for write in plan.to_write:
                say(f"would write {write.tag} -> {write.manifest.digest}")
        else:
            write_release_tags(client, repository, plan, pool, say)

    return PromotionResult(
        project=project.name,
        repository=full_name,
        version=version.release,
        source=build.name,
        platforms={source.arch: source.manifest.digest for source in plan.sources},
        index_digest=plan.index.digest,
        tags_written=tuple(write.tag for write in plan.to_write),
        tags_unchanged=tuple(write.tag for write in plan.unchanged),
        dry_run=dry_run,
        commit_check=commit,
        skipped_builds=skipped,
        notes=notes,
        from_build_index=build_index is not None,
    )
