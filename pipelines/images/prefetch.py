"""What promote reads before it chooses: the tag list, in a thread, and the build it will likely choose.

Behind latency most of a promotion's round trips are the tag list's pages, one after another.
While the later pages come in, the newest complete build of the version seen so far is read
(each platform's tag, image and config), so that when the last page confirms the choice only
the checks and the writes remain. A build is read ahead once a page shows its version's tags
followed by others: in a registry's lexical order, which for CalVer tags is time order, its
builds have ended. A guess that a later page overturns costs those reads and nothing else:
promote then reads the build it chose. A one-page list reads nothing ahead, and nothing read
ahead is written without the usual checks right before the writes: when the last page is in
before the read's last round goes out, the release tags are checked (HEAD) in that round, as a
build read after the listing checks them, so promote writes one round trip sooner. A read whose
last round left earlier, a build with its own index (read after the listing) and a promotion
with a gate (`check=False`) leave the checks to promote, right before its writes.

The command starts this before it imports the rest of promote, so the rules and reading
modules are imported here only when a page calls for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from pipelines.core.errors import PipelineError
from pipelines.core.versions import ProjectVersion
from pipelines.edges.background import Background

if TYPE_CHECKING:
    from pipelines.images.reading import BuildRead
    from pipelines.images.registry.client import RegistryClient, TagListing
    from pipelines.images.rules import Build


class Prefetch:
    """Lists `repository`'s tags in a thread, reading ahead the likely build of `version`; a context manager
    that waits for every read it started on the way out."""

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        version: ProjectVersion,
        platforms: Iterable[str],
        *,
        check: bool = True,
    ) -> None:
        self._client = client
        self._repository = repository
        self._version = version
        self._platforms = tuple(platforms)
        self._check = check  # False when something reads the registry between the reads and the writes
        self._marker = f"-v{version.release}-"
        self._seen = 0  # tags already looked at for the version's marker
        self._new_builds = False  # tags of the version arrived since the last choice
        self._ahead: dict[str, Background[BuildRead]] = {}
        self._listing = Background(partial(client.list_tags, repository, on_page=self._on_page))

    def _on_page(self, tags: tuple[str, ...]) -> None:
        """In the listing's thread, after a page that another follows."""
        new, self._seen = tags[self._seen :], len(tags)
        self._new_builds = self._new_builds or any(self._marker in tag for tag in new)
        if not self._new_builds or self._marker in tags[-1]:
            return  # nothing new of the version, or its builds may go on in the next page
        self._new_builds = False
        from pipelines.images.rules import choose_build

        try:
            build = choose_build(tags, self._version, self._platforms).build
        except PipelineError:
            return  # no complete build yet: the last page may bring one, and promote reports it then
        if build.name not in self._ahead:
            # A build with its own index has it read after the listing: promote checks right before writing.
            check = self._check and build.name not in tags
            self._ahead[build.name] = Background(partial(self._read, build, check=check))

    def _read(self, build: Build, *, check: bool) -> BuildRead:
        from pipelines.images.reading import read_build
        from pipelines.images.rules import release_tags

        tags = release_tags(self._version, self._platforms) if check else ()

        def checks() -> tuple[str, ...]:
            """The release tags, once the listing is complete: a check as fresh as promote's own would be."""
            return tags if self._listing.done() else ()

        return read_build(self._client, self._repository, build.platform_tags(self._platforms), check=checks)

    def listing(self) -> TagListing:
        """Every tag of the repository, once the last page is in; raises what listing raised."""
        return self._listing.result()

    def read_of(self, build: Build) -> BuildRead | None:
        """The read of `build` done ahead, or None when none was started or it did not find every platform.

        A read ahead that failed raises its error here: it sent the requests the caller's own read would send,
        in the same order, and already spent the retries and the time the client's one deadline allows, so a
        second read would only fail on the deadline, naming a request that had been answered.
        """
        ahead = self._ahead.get(build.name)
        if ahead is None:
            return None
        read = ahead.result()
        return None if read.missing else read

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._listing.wait()  # first: no page adds a read ahead after this
        for ahead in self._ahead.values():
            ahead.wait()
