"""The rules of image promotion: which RC build to promote, and what to write for it.

Pure functions over frozen values; the registry is read and written elsewhere
(`pipelines.images.release`), which hands the tags and manifests it read to these rules.

- Builds: CalVer tags of one version grouped by (time, build number, commit), newest first.
- Choosing: the newest build that has every platform of the catalog; newer incomplete
  builds are skipped and reported, never promoted.
- Commit: the release tag's commit must be the build's commit.
- Plan: `{VERSION}-{ARCH}` gets the RC tag's manifest bytes, `{VERSION}` the build's own index
  (written by `build-index` at the CalVer stem, the digest staging ran) or, for a build without
  one, a new OCI image index of the platform images; a release tag that holds another digest is
  never moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pipelines.core.calver import BuildTag, order_build_tags, stamp
from pipelines.core.errors import Corrupt, NotFound, RuleRefused
from pipelines.core.release_commit import CommitCheck
from pipelines.core.values import Value
from pipelines.core.versions import ProjectVersion
from pipelines.images.registry.manifests import REFERENCE_DIGEST, Descriptor, Manifest, Platform, image_index

NEWEST_SHOWN = 3  # how many builds an error message lists


class Build(Value):
    """One RC build: the platform images pushed under the same time, build number and commit."""

    built_at: datetime
    number: int
    sha: str
    version: ProjectVersion
    tags: tuple[BuildTag, ...]  # one per platform present, sorted by arch

    @property
    def name(self) -> str:
        """The CalVer tag without its architecture: `2025.10.25.1430-build.123-v0.1.0-abc1234`."""
        return f"{stamp(self.built_at)}-build.{self.number}-v{self.version.release}-{self.sha}"

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(tag.arch for tag in self.tags)

    def missing(self, platforms: Iterable[str]) -> tuple[str, ...]:
        return tuple(arch for arch in platforms if arch not in self.arches)

    def tag_for(self, arch: str) -> BuildTag:
        """The build's tag of platform `arch`; NotFound when the build has none."""
        for tag in self.tags:
            if tag.arch == arch:
                return tag
        raise NotFound(
            f"build {self.name} has no {arch} image (it has {', '.join(self.arches) or 'none'})",
            hint="promote a complete build: every platform of the catalog pushed",
        )

    def platform_tags(self, platforms: Iterable[str]) -> dict[str, str]:
        """arch -> the build's CalVer tag of it, for each of `platforms`; NotFound when one is missing."""
        return {arch: self.tag_for(arch).tag for arch in platforms}

    def __str__(self) -> str:
        return self.name


def group_builds(tags: Iterable[BuildTag]) -> tuple[Build, ...]:
    """Group platform tags into builds, newest first by (time, build number)."""
    groups: dict[tuple[datetime, int, str, ProjectVersion], list[BuildTag]] = {}
    for tag in tags:
        groups.setdefault((*tag.build_key, tag.version), []).append(tag)
    builds = [
        Build(built_at, number, sha, version, tuple(sorted(members, key=lambda t: t.arch)))
        for (built_at, number, sha, version), members in groups.items()
    ]
    builds.sort(
        key=lambda b: (b.built_at, b.number, b.sha, b.version.major, b.version.minor, b.version.patch), reverse=True
    )
    return tuple(builds)


class Choice(Value):
    """The build to promote, and the newer builds of the same version that were incomplete."""

    build: Build
    skipped: tuple[Build, ...]


def _describe_incomplete(build: Build, platforms: tuple[str, ...]) -> str:
    return f"{build.name} (has {', '.join(build.arches)}; missing {', '.join(build.missing(platforms))})"


def describe_skipped(choice: Choice, platforms: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_describe_incomplete(build, platforms) for build in choice.skipped)


def choose_build(tag_names: Iterable[str], version: ProjectVersion, platforms: tuple[str, ...]) -> Choice:
    """The newest build of `version` that has every platform; CheckFailed naming what exists when none does."""
    tag_names = tuple(tag_names)
    # Only tags that spell this version can be its builds: parse those, not the whole repository.
    marker = f"-v{version.release}-"
    candidates = order_build_tags(name for name in tag_names if marker in name).tags
    same_version = [build for build in group_builds(candidates) if build.version == version]
    skipped: list[Build] = []
    for build in same_version:
        if not build.missing(platforms):
            return Choice(build, tuple(skipped))
        skipped.append(build)
    if skipped:
        listed = "\n  - ".join(_describe_incomplete(build, platforms) for build in skipped[:NEWEST_SHOWN])
        raise RuleRefused(
            f"no complete RC build of {version.release}: every build lacks a platform of {', '.join(platforms)}:\n"
            f"  - {listed}",
            hint="re-run the RC build (or push a new rcN tag) so that every platform is pushed, then promote again",
        )
    newest = [build.name for build in group_builds(order_build_tags(tag_names).tags)[:NEWEST_SHOWN]]
    existing = f"the newest builds are: {', '.join(newest)}" if newest else "the repository has no CalVer build tags"
    raise NotFound(
        f"no RC build of {version.release} in the registry; {existing}",
        hint=f"push an RC tag of {version.release} (`python -m pipelines tag next-rc` names it) "
        "and let its build finish",
    )


def release_tags(version: ProjectVersion, platforms: Iterable[str]) -> tuple[str, ...]:
    """`{VERSION}-{ARCH}` for each platform, then `{VERSION}` for the index."""
    return (*(f"{version.release}-{arch}" for arch in platforms), version.release)


class PlatformSource(Value):
    """One platform of the chosen build: its RC tag's manifest, and what the release index lists for it."""

    arch: str
    build_tag: str
    manifest: Manifest
    entry: Descriptor  # the platform image, with its os/arch
    attestations: tuple[Descriptor, ...] = ()  # buildx attestation manifests of that image
    note: str | None = None


def _wrong_arch(build_tag: str, arch: str, found: Platform) -> Corrupt:
    return Corrupt(
        f"{build_tag} is tagged {arch}, but its image is {found}",
        hint="the RC build pushed the wrong image under this tag; rebuild the RC before promoting",
    )


def source_from_image(build_tag: str, arch: str, manifest: Manifest, platform: Platform) -> PlatformSource:
    """A per-arch tag that is an image manifest; `platform` comes from its config blob."""
    if platform.architecture != arch:
        raise _wrong_arch(build_tag, arch, platform)
    return PlatformSource(arch, build_tag, manifest, manifest.descriptor(platform))


def source_from_index(build_tag: str, arch: str, manifest: Manifest) -> PlatformSource:
    """A per-arch tag that is itself an index (buildx: the image plus its attestation manifest).

    The release index lists the platform image and the attestations that refer to it.
    """
    children = manifest.children()
    images = [c for c in children if not c.is_attestation and c.platform is not None and not c.platform.is_unknown]
    matching = [c for c in images if c.platform is not None and c.platform.architecture == arch]
    if len(matching) != 1:
        found = ", ".join(str(c.platform) for c in images) or "no platform image"
        raise Corrupt(
            f"{build_tag} is an index, and it holds {found} instead of exactly one {arch} image",
            hint="a per-arch build tag must hold one platform image (plus its attestations); rebuild the RC",
        )
    image = matching[0]
    attestations = tuple(c for c in children if c.is_attestation and c.annotation(REFERENCE_DIGEST) == image.digest)
    extra = f" and {len(attestations)} attestation manifest(s)" if attestations else ""
    note = f"{arch}: {build_tag} is an index; the release index lists its {image.platform} image {image.digest}{extra}"
    return PlatformSource(arch, build_tag, manifest, image, attestations, note)


def check_index_image(build_tag: str, source: PlatformSource, config: Platform) -> None:
    """The platform image an index lists must be, by its own config, the os/architecture the entry claims."""
    claimed = source.entry.platform
    if config.architecture != source.arch or (claimed is not None and config.os != claimed.os):
        raise _wrong_arch(build_tag, source.arch, config)


def moved_meanwhile(
    tag: str, found: str | None, wanted: str, *, written: bool, what: str = "release tag", who: str = "promote"
) -> RuleRefused:
    """Another run wrote `tag` while this one ran: before our PUT (`written` False) or right after it."""
    when = "after this run wrote it" if written else "since this run checked it"
    holds = f"holds {found}" if found else "is gone"
    return RuleRefused(
        f"{what} {tag} {holds} {when}, where this run wants {wanted}: another {who} of this version "
        "ran at the same time (this run stopped there)",
        hint=f"let the other run finish, then run {who} again: it reports what each tag holds; "
        "releases of one project are serialized in the workflows",
    )


def platform_entries(sources: Iterable[PlatformSource]) -> tuple[Descriptor, ...]:
    """What a multi-arch index of these platforms lists: each platform image, then its attestations."""
    entries: list[Descriptor] = []
    for source in sources:
        entries.append(source.entry)
        entries.extend(source.attestations)
    return tuple(entries)


def check_build_index(build: Build, build_index: Manifest, entries: Iterable[Descriptor]) -> Manifest:
    """The build's own index, if it lists exactly the images its platform tags hold; Corrupt otherwise.

    Staging ran that index, so the release copies it byte for byte; but its platform tags are copied too,
    and both must name the same images.
    """
    listed = {child.digest for child in build_index.children()} if build_index.is_index else set()
    tagged = {entry.digest for entry in entries}
    if listed != tagged:
        differ = ", ".join(sorted(listed ^ tagged)) or "it is not an index"
        raise Corrupt(
            f"the build index {build.name} ({build_index.digest}) does not list the images its platform tags hold "
            f"(differing: {differ})",
            hint="a platform was pushed again after the index was written; push a new RC tag so that one "
            "build runs in staging and is released",
        )
    return build_index


class TagWrite(Value):
    """A release tag and the manifest it must hold; `existing` is the digest it holds now, None when absent."""

    tag: str
    manifest: Manifest
    existing: str | None

    @property
    def needed(self) -> bool:
        return self.existing is None


class PromotionPlan(Value):
    build: Build
    sources: tuple[PlatformSource, ...]
    index: Manifest
    writes: tuple[TagWrite, ...]  # platform tags first, the index last: it is what deploys pin

    @property
    def to_write(self) -> tuple[TagWrite, ...]:
        return tuple(w for w in self.writes if w.needed)

    @property
    def unchanged(self) -> tuple[TagWrite, ...]:
        return tuple(w for w in self.writes if not w.needed)


def plan_promotion(
    build: Build,
    version: ProjectVersion,
    sources: Iterable[PlatformSource],
    existing: Mapping[str, str | None],
    build_index: Manifest | None = None,
) -> PromotionPlan:
    """What to write; CheckFailed listing every release tag that holds another digest, before anything is written.

    `{VERSION}` gets the build's own index when it has one (what staging ran), else a new index.
    """
    sources = tuple(sources)
    entries = platform_entries(sources)
    index = image_index(entries) if build_index is None else check_build_index(build, build_index, entries)
    wanted = [*(source.manifest for source in sources), index]
    tags = release_tags(version, (source.arch for source in sources))
    writes = tuple(TagWrite(tag, manifest, existing.get(tag)) for tag, manifest in zip(tags, wanted, strict=False))
    moved = [w for w in writes if w.existing is not None and w.existing != w.manifest.digest]
    if moved:
        lines = "\n  - ".join(
            f"{w.tag} holds {w.existing}; build {build.name} gives {w.manifest.digest}" for w in moved
        )
        raise RuleRefused(
            f"release tags already point at other digests, and promote never moves a release tag "
            f"(nothing was written):\n  - {lines}",
            hint=f"{version.release} was promoted from another build; if it was never deployed, delete those tags "
            "in the registry and promote again, otherwise release a new version",
        )
    return PromotionPlan(build, sources, index, writes)


def request_budget(platforms: int, tag_list_pages: int, *, build_index: bool = False, other_reads: int = 0) -> int:
    """The most requests a fresh promotion should take, besides reading each platform's config: per platform
    its GET; per release tag (each platform's and the index) a check, the PUT and a read-back, the index's
    second check once the platform tags are written, and the platform tags read again with the index's
    read-back; the tag-list pages; the build index's GET when the build has one; and `other_reads` (the
    staging records).
    """
    return platforms + 3 * (platforms + 1) + 1 + platforms + tag_list_pages + int(build_index) + other_reads


class PromotionResult(Value):
    """What a promotion did (or, for a dry run, would do); the write-back of digests starts from this."""

    project: str
    repository: str
    version: str
    source: str  # the build promoted, its CalVer tag without the architecture
    platforms: Mapping[str, str]  # arch -> digest of `{VERSION}-{ARCH}` (the RC tag's manifest)
    index_digest: str
    tags_written: tuple[str, ...]  # for a dry run: the tags it would write
    tags_unchanged: tuple[str, ...]
    dry_run: bool = False
    commit_check: CommitCheck | None = None
    skipped_builds: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    from_build_index: bool = False

    @property
    def image(self) -> str:
        """The reference deploys pin: `repository@index digest`."""
        return f"{self.repository}@{self.index_digest}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "repository": self.repository,
            "version": self.version,
            "source": self.source,
            "platforms": dict(self.platforms),
            "index_digest": self.index_digest,
            "image": self.image,
            "tags_written": list(self.tags_written),
            "tags_unchanged": list(self.tags_unchanged),
            "dry_run": self.dry_run,
            "commit_check": None
            if self.commit_check is None
            else {
                "status": self.commit_check.status.value,
                "detail": self.commit_check.detail,
                "release_commit": self.commit_check.release_commit,
            },
            "skipped_builds": list(self.skipped_builds),
            "notes": list(self.notes),
            "from_build_index": self.from_build_index,
        }
