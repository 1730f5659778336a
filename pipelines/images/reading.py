"""Reading one RC build's platform images from the registry, level by level, for promote and build-index.

A platform is read in up to three dependent steps: its CalVer tag's manifest, the image an
index names (buildx pushes a per-arch index of the image and its attestation), and that
image's config, whose os/architecture is checked against what the tag claims. Each step of
every platform goes out at once, so a build takes three round trips however many platforms
it has. The tags a caller is about to write are checked (HEAD) alongside the last step: the
answer is then as fresh as a check sent right before the writes, one round trip earlier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial

from pipelines.core.errors import NotFound
from pipelines.core.values import Value
from pipelines.edges.background import Background, at_once, wait_all
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.manifests import Manifest, Platform, platform_of_config
from pipelines.images.rules import PlatformSource, check_index_image, source_from_image, source_from_index


class BuildRead(Value):
    """What the registry holds of one build's platforms, and of the tags checked with the last read."""

    sources: tuple[PlatformSource, ...]  # in the order of the platforms asked for, those found
    missing: tuple[str, ...]  # platforms whose CalVer tag is not in the registry
    checked: Mapping[str, str | None]  # tag -> the digest it holds, None when absent


def _get_or_missing(client: RegistryClient, repository: str, tag: str) -> Manifest | None:
    try:
        return client.get_manifest(repository, tag)
    except NotFound:
        return None


def _config_platform(client: RegistryClient, repository: str, image: Manifest, build_tag: str) -> Platform:
    config = image.config()
    return platform_of_config(client.get_blob(repository, config.digest), f"config {config.digest} of {build_tag}")


def read_build(
    client: RegistryClient,
    repository: str,
    build_tags: Mapping[str, str],
    *,
    check: Iterable[str] | Callable[[], Iterable[str]] = (),
) -> BuildRead:
    """Read every platform of `build_tags` (arch -> CalVer tag) in three rounds, and HEAD `check` with the last.

    `check` may be a function, asked for the tags as the last round goes out (a read ahead checks the
    release tags only once the tag list is complete). A platform whose tag is absent is reported in
    `missing`, not raised: the caller knows whether that is an incomplete build or a tag deleted since
    it listed them. Any other fault is raised, the first by the order of the requests, never of their answers.
    """
    arches = list(build_tags)
    manifests = at_once([partial(_get_or_missing, client, repository, build_tags[a]) for a in arches])
    found = {arch: manifest for arch, manifest in zip(arches, manifests, strict=True) if manifest is not None}
    # An index's platform entry is only a claim: the image it names is read for its own config.
    claims = {arch: source_from_index(build_tags[arch], arch, m) for arch, m in found.items() if m.is_index}
    named = at_once([partial(client.get_manifest, repository, claims[a].entry.digest) for a in claims])
    images = {**found, **dict(zip(claims, named, strict=True))}
    # The last round: every image's config, and the tags to check.
    configs = [Background(partial(_config_platform, client, repository, images[a], build_tags[a])) for a in found]
    tags = check() if callable(check) else check
    heads = {tag: Background(partial(client.head_manifest, repository, tag)) for tag in tags}
    wait_all([*configs, *heads.values()])
    platforms = dict(zip(found, (run.result() for run in configs), strict=True))
    sources = []
    for arch, manifest in found.items():
        if arch in claims:
            check_index_image(build_tags[arch], claims[arch], platforms[arch])
            sources.append(claims[arch])
        else:
            sources.append(source_from_image(build_tags[arch], arch, manifest, platforms[arch]))
    return BuildRead(
        sources=tuple(sources),
        missing=tuple(arch for arch in arches if arch not in found),
        checked={tag: run.result() for tag, run in heads.items()},
    )
