"""What promote reads before it chooses: the tag list, in threads, and the build it will likely choose.

Behind latency most of a promotion's round trips are the tag list's pages, one after another.
Two listings may run at once:
- the full one, every page from the first: always right, and what promote goes by unless
- the tail, when the caller knows the release commit's time and the full listing has a second
  page (most lists have one page: nothing to gain, and the registry is spared a second listing):
  the tags lexically after the boundary, the CalVer stamp a day before that commit. A build's
  stamp is the runner's clock when it ran, after its commit was made, so the builds of the
  release commit are after the boundary, and so is every build newer than any build after it;
  the day leaves room for a committer's clock that runs ahead. The registry is asked for the
  tags after a stamp a day earlier still (the distribution API's `last`), and its answer counts
  only when it shows it reaches back past the boundary, its first tag at or before it: a
  registry may treat `last` as a tag it has and drop the first tag after it (distribution v3
  does, and a stamp is never a tag), and a tag dropped before the boundary changes nothing after
  it. Its last page must also be shorter than the full listing's first: a page as full as the
  registry's pages, with no `Link` after it, may have been cut (a registry that pages only the
  listings it started itself would cut it so). Then the tags after the boundary are exactly the
  registry's, and when they hold a complete
  build of the version, the newest complete build of the whole list is among them: promote
  chooses from them, and the full listing stops after the page it is reading. Otherwise (no
  complete build after the boundary, a quiet day before it, a registry that ignores `last` or
  does not list in lexical order, a tail that failed) promote goes by the full listing, which
  never waited for the tail: that costs requests, never time. What else promote takes from the
  list is after the boundary too: the build index shares its build's stamp, and staging
  records' tags (`sha256-…`) sort after every stamp.
While the later pages come in, the newest complete build of the version seen so far is read
(each platform's tag, image and config), so that when the last page confirms the choice only
the checks and the writes remain. A build is read ahead once a page shows its version's tags
followed by others: in a registry's lexical order, which for CalVer tags is time order, its
builds have ended; both listings' pages are read for that, and a build they both name is read
once. A guess that a later page overturns costs those reads and nothing
else: promote then reads the build it chose. A one-page list reads nothing ahead, and nothing
read ahead is written without the usual checks right before the writes: when the listing is
known before the read's last round goes out, the release tags are checked (HEAD) in that round,
as a build read after the listing checks them, so promote writes one round trip sooner. A read
whose last round left earlier, a build with its own index (read after the listing) and a
promotion with a gate (`check=False`) leave the checks to promote, right before its writes.

The command starts this before it imports the rest of promote, so the rules and reading
modules are imported here only when a page calls for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from pipelines.core.errors import PipelineError
from pipelines.core.versions import ProjectVersion
from pipelines.edges.background import Background

if TYPE_CHECKING:
    from pipelines.images.reading import BuildRead
    from pipelines.images.registry.client import RegistryClient, TagListing
    from pipelines.images.rules import Build


CLOCK_MARGIN = timedelta(days=1)  # how far ahead of the runners' clocks a committer's may run
LOOKBACK = timedelta(days=1)  # how far before the boundary the tail is asked for, to show it reaches back


def tail_bounds(committed_at: datetime) -> tuple[str, str]:
    """For a release commit made at `committed_at`: the `last` the tail is asked after, and the boundary after
    which its tags are taken (the CalVer stamps two days and a day before)."""
    from pipelines.core.calver import stamp  # in the tail's thread, once git has answered

    boundary = committed_at - CLOCK_MARGIN
    return stamp(boundary - LOOKBACK), stamp(boundary)


class _Pages:
    """What one listing's pages showed of the version so far, for reading ahead."""

    def __init__(self) -> None:
        self.seen = 0  # tags already looked at for the version's marker
        self.new_builds = False  # tags of the version arrived since the last choice


class Prefetch:
    """Lists `repository`'s tags in threads, reading ahead the likely build of `version`; a context manager
    that waits for every request it started on the way out.

    `committed_at`, called in the tail's thread, gives the release commit's time (None: no tail).
    """

    def __init__(
        self,
        client: RegistryClient,
        repository: str,
        version: ProjectVersion,
        platforms: Iterable[str],
        *,
        check: bool = True,
        committed_at: Callable[[], datetime | None] | None = None,
    ) -> None:
        self._client = client
        self._repository = repository
        self._version = version
        self._platforms = tuple(platforms)
        self._check = check  # False when something reads the registry between the reads and the writes
        self._marker = f"-v{version.release}-"
        self._ahead: dict[str, Background[BuildRead]] = {}
        self._ahead_lock = threading.Lock()
        self._chosen = threading.Event()  # the tail holds the choice: the full listing sends no further page
        self._tail_pages, self._full_pages = _Pages(), _Pages()
        self._first_page = threading.Event()  # the full listing's first page is in
        self._full_ended = threading.Event()  # the full listing returned or raised
        self._ended = threading.Semaphore(0)  # released by each listing as it ends: `listing` waits for the first
        self._decided: TagListing | None = None  # what `listing` returned
        self._page_size = 0  # the tags of the full listing's first page, when another followed: the registry's pages
        self._full = Background(self._list_full)
        self._tail = Background(partial(self._list_tail, committed_at)) if committed_at is not None else None

    def _list_full(self) -> TagListing:
        try:
            on_page = partial(self._on_page, self._full_pages)
            return self._client.list_tags(self._repository, on_page=on_page, stop=self._chosen.is_set)
        finally:
            self._full_ended.set()
            self._first_page.set()  # a listing that ended (or failed) on its first page: the tail has nothing to add
            self._ended.release()

    def _list_tail(self, committed_at: Callable[[], datetime | None]) -> TagListing | None:
        """In the tail's thread: the tags after the boundary when they hold a complete build of the version."""
        tail = None
        try:
            tail = self._tail_holding_the_choice(committed_at())
        except PipelineError:
            tail = None  # a tail that failed: the full listing decides, and reports the registry's faults itself
        finally:
            if tail is not None:
                self._chosen.set()
            self._ended.release()
        return tail

    def _tail_holding_the_choice(self, committed_at: datetime | None) -> TagListing | None:
        self._first_page.wait()  # a list of one page (most, and all the registries that answer every tag at once)
        if committed_at is None or self._full_ended.is_set():  # needs no tail, nor a second listing of the registry
            return None
        asked, boundary = tail_bounds(committed_at)
        on_page = partial(self._on_page, self._tail_pages)
        tail = self._client.list_tags_after(self._repository, asked, on_page=on_page, stop=self._full_ended.is_set)
        if tail is None or not tail.complete or not tail.tags or tail.tags[0] > boundary:
            return None  # not the registry's every tag after the boundary, or not shown to be
        if tail.last_page >= self._page_size:
            return None  # a last page as full as the registry's pages may have been cut: no Link is no proof
        from pipelines.images.registry.client import TagListing

        newer = tuple(tag for tag in tail.tags if tag > boundary)
        return TagListing(newer, tail.pages, after=boundary) if self._holds_choice(newer) else None

    def _holds_choice(self, tags: tuple[str, ...]) -> bool:
        from pipelines.images.rules import choose_build

        try:
            choose_build(tags, self._version, self._platforms)
        except PipelineError:
            return False
        return True

    def _on_page(self, pages: _Pages, tags: tuple[str, ...]) -> None:
        """In a listing's thread, after a page that another follows."""
        if pages is self._full_pages and not self._first_page.is_set():
            self._page_size = len(tags)  # before the tail may start: it waits for `_first_page`
            self._first_page.set()
        new, pages.seen = tags[pages.seen :], len(tags)
        pages.new_builds = pages.new_builds or any(self._marker in tag for tag in new)
        if not pages.new_builds or self._marker in tags[-1]:
            return  # nothing new of the version, or its builds may go on in the next page
        pages.new_builds = False
        from pipelines.images.rules import choose_build

        try:
            build = choose_build(tags, self._version, self._platforms).build
        except PipelineError:
            return  # no complete build yet: the last page may bring one, and promote reports it then
        # A build with its own index has it read after the listing: promote checks right before writing.
        check = self._check and build.name not in tags
        with self._ahead_lock:  # both listings' pages may name the same build: it is read once
            if build.name not in self._ahead:
                self._ahead[build.name] = Background(partial(self._read, build, check=check))

    def _read(self, build: Build, *, check: bool) -> BuildRead:
        from pipelines.images.reading import read_build
        from pipelines.images.rules import release_tags

        tags = release_tags(self._version, self._platforms) if check else ()

        def checks() -> tuple[str, ...]:
            """The release tags, once the listing is known: a check as fresh as promote's own would be."""
            return tags if self._listed() else ()

        return read_build(self._client, self._repository, build.platform_tags(self._platforms), check=checks)

    def _listed(self) -> bool:
        """Whether the listing promote goes by is in: the tail holding the choice, or the full one."""
        return self._chosen.is_set() or self._full_ended.is_set()

    def listing(self) -> TagListing:
        """The tail when it holds the choice, else every tag of the repository; raises what listing raised.

        Never waits for a tail once the full listing is in: a registry slow to answer `last` costs no time.
        Decided once: a later call (the staging gate's) gets the same listing without waiting again.
        """
        if self._decided is None:
            if self._tail is not None:
                self._ended.acquire()  # one listing has ended
            if self._chosen.is_set():
                self._decided = self._tail.result() if self._tail is not None else None
                assert self._decided is not None  # chosen: the tail it returned holds the choice
            else:
                self._decided = self._full.result()
        return self._decided

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
        if self._tail is not None:
            self._tail.wait()  # first: no page adds a read ahead after these
        self._full.wait()
        for ahead in self._ahead.values():
            ahead.wait()
