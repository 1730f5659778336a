"""Carrying out an image promotion: read the registry, apply the rules of `pipelines.images.rules`, write.

`promote_release` is the library entry point: the `promote` command calls it, and so
can the deployment stage that writes the digests into the stack config. The order
keeps the registry safe: every read and every check (build chosen, commit, platforms,
release tags that would move) happens before the first write, platform tags are
written before the index that lists them, and a re-run skips what already holds the
right digest, so a run that failed half-way is completed by the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial

from pipelines.core.catalog import Project, get_image_project
from pipelines.core.errors import NotFound
from pipelines.core.release_commit import check_commit
from pipelines.core.versions import ProjectVersion
from pipelines.edges.background import Background, at_once
from pipelines.images.prefetch import Prefetch
from pipelines.images.reading import read_build
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.manifests import Manifest
from pipelines.images.rules import (
    Build,
    PromotionPlan,
    PromotionResult,
    TagWrite,
    choose_build,
    describe_skipped,
    moved_meanwhile,
    plan_promotion,
    release_tags,
)


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


def write_release_tags(
    client: RegistryClient, repository: str, plan: PromotionPlan, say: Callable[[str], None]
) -> None:
    """The platform tags at once; then, once they all read back right, the index that lists them (what deploys pin).

    Another promote of the same version may run at once (a re-run, a second workflow). Every tag is
    checked in the round trip right before its PUT (the platform tags by the caller, the index again
    with the platform tags' read-back) and read back after it, and the index's read-back reads every
    platform tag once more, so that neither run silently moves what the other wrote: a run whose
    platform tags another run overwrote after their first read-back (its check came before our PUTs,
    its PUTs after) fails instead of reporting a release whose index and platform tags disagree.
    """
    index_tag = plan.writes[-1].tag
    platforms = [write for write in plan.to_write if write.tag != index_tag]
    index = next((write for write in plan.to_write if write.tag == index_tag), None)
    for write in platforms:
        say(f"writing {write.tag} -> {write.manifest.digest}")
    at_once([partial(client.put_manifest, repository, w.tag, w.manifest) for w in platforms])
    read_back = [write.tag for write in platforms]
    if platforms and index is not None:
        read_back.append(index.tag)  # its check, the round trip right before its PUT
    heads = at_once([partial(client.head_manifest, repository, tag) for tag in read_back])
    now = dict(zip(read_back, heads, strict=True))
    for write in platforms:
        if now[write.tag] != write.manifest.digest:
            raise moved_meanwhile(write.tag, now[write.tag], write.manifest.digest, written=True)
    if index is None:
        return
    found = now.get(index.tag)
    if found is not None:
        if found != index.manifest.digest:
            raise moved_meanwhile(index.tag, found, index.manifest.digest, written=False)
        return  # another run of the same promotion wrote it meanwhile
    say(f"writing {index.tag} -> {index.manifest.digest}")
    client.put_manifest(repository, index.tag, index.manifest)
    release = [index, *(write for write in plan.writes if write.tag != index_tag)]
    heads = at_once([partial(client.head_manifest, repository, write.tag) for write in release])
    for write, digest in zip(release, heads, strict=True):
        if digest != write.manifest.digest:
            raise moved_meanwhile(write.tag, digest, write.manifest.digest, written=True)


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
    prefetch: Prefetch | None = None,
) -> PromotionResult:
    """Promote the newest complete RC build of `version` to its release tags; CheckFailed when it must not.

    `release_commit` is the commit `release_tag` points at in the checkout (None when the
    tag is not there); `in_checkout` False skips the commit check. `gate` sees the chosen build
    and its build index (None when it has none) before anything is written, and raises to refuse
    it (the staging requirement). A dry run reads and checks everything and writes nothing. `prefetch` is
    the tag listing the caller started already (the command does, before it loads this module).
    """
    image_name = str(get_image_project(project.name).image_name)
    repository = client.location.repository(image_name)
    full_name = f"{client.location.host}/{repository}"
    with ExitStack() as stack:
        if prefetch is None:
            say(f"listing the tags of {full_name}")
            prefetch = stack.enter_context(Prefetch(client, repository, version, project.platforms, check=gate is None))
        listing = prefetch.listing()
        after = f" after {listing.after} (the release commit's builds and all later)" if listing.after else ""
        say(f"  {len(listing.tags)} tags{after} in {listing.pages} page(s)")
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
        tags = release_tags(version, project.platforms)
        build_tags = build.platform_tags(project.platforms)
        # The build index (when the listing has one) is read alongside the platforms' first round.
        index_read = (
            stack.enter_context(Background(partial(client.get_manifest, repository, build.name)))
            if build.name in listing.tags
            else None
        )
        read = prefetch.read_of(build)
        prefetched = read is not None
        if read is not None:
            say(f"read {', '.join(build_tags.values())} while the tags were listed")
        else:
            for arch, tag in build_tags.items():
                say(f"reading {arch}: {tag}")
            # The release tags are checked with the last read, right before the writes, unless a gate
            # reads the registry in between.
            read = read_build(client, repository, build_tags, check=() if gate else tags)
        if read.missing:
            raise NotFound(
                f"{', '.join(build_tags[arch] for arch in read.missing)} of build {build.name} vanished from "
                f"{full_name} since its tags were listed",
                hint="someone deleted RC tags during the promotion; find out who, then promote again",
            )
        build_index = index_read.result() if index_read is not None else None
        if build_index is not None:
            say(f"build index {build.name}: {build_index.digest} (what staging ran); {version.release} gets its bytes")
        if gate is not None:
            gate(build, build_index)
        # The checks the last read carried: by the read after the listing (the build index read alongside), or by
        # a read ahead whose last round went out once the listing was complete (a build without an index).
        existing = dict(read.checked) if gate is None and (index_read is None or not prefetched) else {}
        if set(existing) != set(tags):  # none yet, or a gate ran since: checked now, the round trip before the writes
            heads = at_once([partial(client.head_manifest, repository, tag) for tag in tags])
            existing = dict(zip(tags, heads, strict=True))
        plan = plan_promotion(build, version, read.sources, existing, build_index)
        notes = tuple(source.note for source in plan.sources if source.note)
        for note in notes:
            say(note)
        for write in plan.unchanged:
            say(f"{write.tag} already holds {write.manifest.digest}: unchanged")
        if dry_run:
            for write in plan.to_write:
                say(f"would write {write.tag} -> {write.manifest.digest}")
        else:
            write_release_tags(client, repository, plan, say)

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
