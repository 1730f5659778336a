"""The registry cross-check: every pinned digest must still be what the release tag `{version}` points at.

A release tag is never moved; if it was, the config and the registry disagree about
what was released, and nothing is deployed until a person looks. The lookup goes
through pulumi-docker's `get_registry_image` (the registry's API, no Docker daemon);
the comparison is a pure function. `registryCheck: false` turns the lookup off for
offline use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pipelines.core.errors import RuleRefused
from pipelines.deploy.pins import IMAGES_KEY, ImagePin

Lookup = Callable[[str], str]


def release_reference(pin: ImagePin) -> str:
    return f"{pin.repository}:{pin.version}"


def digest_mismatches(pins: Iterable[ImagePin], found: dict[str, str]) -> list[str]:
    """One message per pinned image whose release tag (keyed by reference in `found`) points elsewhere."""
    problems = []
    for pin in pins:
        reference = release_reference(pin)
        if pin.pinned and found.get(reference) != pin.digest:
            problems.append(
                f"{reference} points at {found.get(reference)}, but {IMAGES_KEY}.{pin.project}.digest is {pin.digest}"
            )
    return problems


def registry_lookup(reference: str) -> str:
    """The digest a tag points at, asked of the registry through pulumi-docker (the edge)."""
    import pulumi_docker as docker

    return docker.get_registry_image(name=reference).sha256_digest


def verify_pins(pins: Iterable[ImagePin], lookup: Lookup = registry_lookup) -> None:
    """Raise CheckFailed when a release tag no longer points at its pinned digest."""
    pinned = [pin for pin in pins if pin.pinned]
    found = {release_reference(pin): lookup(release_reference(pin)) for pin in pinned}
    problems = digest_mismatches(pinned, found)
    if problems:
        raise RuleRefused(
            "the registry disagrees with the pinned digests (a release tag was moved):\n  - " + "\n  - ".join(problems),
            hint="release tags must never move: find out who pushed them and restore them, or pin the digest the "
            "release really produced; to run offline, pulumi config set "
            f"{IMAGES_KEY.split(':')[0]}:registryCheck false",
        )
