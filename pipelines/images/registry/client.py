"""A client for the OCI distribution API, on the one HTTP layer (`pipelines.edges.http`).

Owns the registry's requests: tag lists that follow `Link` pagination (all of a repository's
tags, or those after one, in lexical order as the distribution API's `last` promises), manifest
GET/HEAD/PUT with their exact bytes and digest checks, small blob reads checked against their
digest, and the re-send of a request once its 401 challenge is answered (`auth.py`); each
request is counted (`stats.py`). Timeouts, retries with backoff and Retry-After, and the total
time limit are the HTTP layer's. Where the registry is lives in `location.py`, who we are in
`credentials.py`. It knows nothing of builds or releases.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from itertools import pairwise
from urllib.parse import urlencode, urlsplit

from pipelines.core.digests import is_digest, sha256_digest
from pipelines.core.errors import Corrupt, NotFound, Unauthorized
from pipelines.core.values import Value
from pipelines.edges.http import HttpClient, Response, RetryPolicy, Timeouts, join_url, status_error
from pipelines.images.registry.auth import Authenticator, registry_errors
from pipelines.images.registry.credentials import CREDENTIAL_SOURCES, Credentials
from pipelines.images.registry.location import RegistryLocation
from pipelines.images.registry.manifests import MANIFEST_MEDIA_TYPES, OCI_INDEX, Manifest, parse_manifest
from pipelines.images.registry.stats import RequestStats

TAGS_PAGE_SIZE = 1000
ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES)
MAX_MANIFEST_BYTES = 4 << 20  # the OCI distribution spec's limit; also the cap of every other JSON answer
MAX_BLOB_BYTES = 16 << 20  # only small blobs (image configs) are read
GAVE_UP_HINT = (
    "the registry is failing or rate-limiting; run promote again later: it completes what this run "
    "left, and never moves a tag it wrote"
)


class StoredManifest(Value):
    """A manifest the registry accepted; `subject` is its OCI-Subject answer (a registry with a referrers API)."""

    digest: str
    subject: str | None


class TagListing(Value):
    """The tags a listing read, in the registry's order: all of them, or those lexically after `after`;
    `complete` is False when the caller stopped it before its last page; `last_page`: how many tags that held."""

    tags: tuple[str, ...]
    pages: int
    after: str | None = None
    complete: bool = True
    last_page: int = 0


def _in_order(previous: str, page: list[str]) -> bool:
    """Whether every tag of `page` comes lexically after the one before it, the first after `previous`."""
    return all(earlier < tag for earlier, tag in pairwise([previous, *page]))


class RegistryClient:
    """Talks to one registry host; every request is counted in `stats`.

    `push` asks token services for push rights up front, so that reads and writes of
    a repository share one token.
    """

    def __init__(
        self,
        location: RegistryLocation,
        credentials: Credentials | None = None,
        *,
        push: bool = False,
        policy: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        say: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.location = location
        self.credentials = credentials
        self.stats = RequestStats(retries=lambda: self._http.retries)
        self._say = say or (lambda message: None)
        self._http = HttpClient(
            policy=policy,
            timeouts=timeouts,
            environ=environ,
            clock=clock,
            sleep=sleep,
            rng=rng,
            say=say,
            describe=registry_errors,
        )
        self._auth = Authenticator(location.host, credentials, push=push, send=self._send_token, clock=clock)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """`GET /v2/`, the distribution API's base: the registry answers and lets these credentials in (preflight)."""
        response = self._request("ping", "GET", f"{self.location.base_url}/v2/", "")
        self._expect(response, "open its API (/v2/)")

    def list_tags(
        self,
        repository: str,
        *,
        on_page: Callable[[tuple[str, ...]], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> TagListing:
        """Every tag of `repository`, following `Link` pages of up to 1000; an unknown repository has none.

        `on_page` sees the tags so far after each page that another follows (a caller reading ahead); when
        `stop` says so before a next page, the listing ends there, marked incomplete, and a page being
        retried is given up (`Unavailable`).
        """
        url = f"{self.location.base_url}/v2/{repository}/tags/list?n={TAGS_PAGE_SIZE}"
        listing = self._list(repository, url, after=None, on_page=on_page, stop=stop)
        assert listing is not None  # only a listing after a tag can be refused
        return listing

    def list_tags_after(
        self,
        repository: str,
        after: str,
        *,
        on_page: Callable[[tuple[str, ...]], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> TagListing | None:
        """The tags of `repository` lexically after `after` (the distribution API's `last`), as `list_tags`.

        None when the registry does not answer `last` that way: a page holds a tag at or before `after`,
        or at or before the tag listed before it (it ignored `last`, or it lists in another order, as
        GHCR does, newest first). The caller then has only the full listing to go by.
        """
        url = f"{self.location.base_url}/v2/{repository}/tags/list?{urlencode({'n': TAGS_PAGE_SIZE, 'last': after})}"
        return self._list(repository, url, after=after, on_page=on_page, stop=stop)

    def _list(
        self,
        repository: str,
        url: str,
        *,
        after: str | None,
        on_page: Callable[[tuple[str, ...]], None] | None,
        stop: Callable[[], bool] | None,
    ) -> TagListing | None:
        """The pages from `url` on; with `after`, None as soon as a page breaks lexical order after it."""
        base = self.location.base_url
        tags: list[str] = []
        page: list[str] = []
        visited: set[str] = set()
        pages = 0
        while url:
            if stop is not None and stop():
                return TagListing(tuple(tags), pages, after=after, complete=False, last_page=len(page))
            visited.add(url)
            response = self._request("tags", "GET", url, repository, stop=stop)
            if response.status == 404 and pages == 0:
                return TagListing((), 0, after=after)
            self._expect(response, f"list the tags of {repository}")
            pages += 1
            self.stats.add("tag_list_pages")
            page = self._tags_of(response, repository)
            if after is not None and not _in_order(tags[-1] if tags else after, page):
                return None
            tags.extend(page)
            following = response.links.get("next")
            url = (join_url(response.url, following.target) or "invalid:") if following else ""
            if url and (urlsplit(url).netloc != urlsplit(base).netloc or url in visited):
                raise Corrupt(
                    f"the tag list of {repository} points its next page at {following and following.target!r}, "
                    "another host or a page already read",
                    hint="the registry's pagination is broken; report it to the registry's operators",
                )
            if url and not (stop is not None and stop()):
                self._say(f"  {len(tags)} tags{f' after {after}' if after else ''} so far ({pages} pages)")
                if on_page is not None:
                    on_page(tuple(tags))
        return TagListing(tuple(tags), pages, after=after, last_page=len(page))

    def _tags_of(self, response: Response, repository: str) -> list[str]:
        """The `tags` of one tag-list page: a list of strings (null for none), else Corrupt."""
        try:
            document = response.json()
        except ValueError:
            document = None
        page = document.get("tags", []) if isinstance(document, dict) else None
        if page is None and isinstance(document, dict):
            return []  # distribution answers "tags": null for a repository without tags
        if not isinstance(page, list) or not all(isinstance(tag, str) for tag in page):
            raise Corrupt(
                f"the tag list of {repository} from {self.location.host} is not a JSON object with a list of tags",
                hint="the registry's answer is not the distribution API's; check --registry",
            )
        return page

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest or index at a tag or digest, as its exact bytes; its digest is checked."""
        url = f"{self.location.base_url}/v2/{repository}/manifests/{reference}"
        response = self._request("manifest-get", "GET", url, repository, headers={"Accept": ACCEPT_MANIFESTS})
        where = f"{self.location.host}/{repository}:{reference}"
        if response.status == 404:
            raise NotFound(f"{where} is not in the registry ({registry_errors(response)})")
        self._expect(response, f"read {where}")
        manifest = parse_manifest(response.headers.get("Content-Type"), response.body, where)
        served = response.headers.get("Docker-Content-Digest", "")
        expected = reference if is_digest(reference) else served if served.startswith("sha256:") else None
        if expected is not None and expected != manifest.digest:
            raise Corrupt(
                f"{where}: the registry says digest {expected}, but the bytes it sent hash to {manifest.digest}",
                hint="a proxy or the registry altered the manifest; do not promote from it",
            )
        return manifest

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at, or None when there is no such tag."""
        url = f"{self.location.base_url}/v2/{repository}/manifests/{reference}"
        response = self._request("manifest-head", "HEAD", url, repository, headers={"Accept": ACCEPT_MANIFESTS})
        if response.status == 404:
            return None
        self._expect(response, f"check {self.location.host}/{repository}:{reference}")
        digest = response.headers.get("Docker-Content-Digest", "")
        return digest if is_digest(digest) else self.get_manifest(repository, reference).digest

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> StoredManifest:
        """Store `manifest` byte for byte under a tag or its digest; its digest is checked against the registry's."""
        url = f"{self.location.base_url}/v2/{repository}/manifests/{reference}"
        response = self._request(
            "manifest-put", "PUT", url, repository, headers={"Content-Type": manifest.media_type}, data=manifest.data
        )
        where = f"{self.location.host}/{repository}:{reference}"
        self._expect(response, f"write {where}")
        stored = response.headers.get("Docker-Content-Digest", "")
        if stored.startswith("sha256:") and stored != manifest.digest:
            raise Corrupt(
                f"{where}: the registry stored digest {stored}, but the manifest sent has {manifest.digest}",
                hint="the registry rewrote the manifest; promote copies byte for byte and cannot use it",
            )
        return StoredManifest(manifest.digest, response.headers.get("OCI-Subject") or None)

    def get_referrers(self, repository: str, digest: str) -> Manifest | None:
        """The referrers API's index of the manifests whose subject is `digest`; None when the registry has no
        referrers API (it answers 404), so that the caller falls back to the referrers tag schema."""
        url = f"{self.location.base_url}/v2/{repository}/referrers/{digest}"
        response = self._request("referrers", "GET", url, repository, headers={"Accept": OCI_INDEX})
        if response.status == 404:
            return None
        where = f"the referrers of {self.location.host}/{repository}@{digest}"
        self._expect(response, f"read {where}")
        return parse_manifest(response.headers.get("Content-Type"), response.body, where)

    def put_blob(self, repository: str, data: bytes) -> str:
        """Upload a small blob (a record, a test report) unless the repository has it already; its digest.

        The upload is the spec's two-step monolithic one (POST for a session, PUT of the bytes), which every
        registry supports. The session URL must stay on the registry's host: our credentials go with it.
        """
        digest = sha256_digest(data)
        base = self.location.base_url
        found = self._request("blob-head", "HEAD", f"{base}/v2/{repository}/blobs/{digest}", repository)
        if found.ok:
            return digest
        if found.status != 404:
            self._expect(found, f"check blob {digest} of {repository}")
        started = self._request("blob-upload", "POST", f"{base}/v2/{repository}/blobs/uploads/", repository)
        self._expect(started, f"start an upload to {repository}")
        location = started.headers.get("Location", "")
        session = join_url(started.url, location) if location else None
        if session is None or urlsplit(session).netloc != urlsplit(base).netloc:
            raise Corrupt(
                f"{self.location.host} sent the upload of {repository} to another host",
                hint="uploads through other hosts (e.g. storage redirects) are not supported for records; "
                "use a registry that accepts uploads itself",
            )
        url = f"{session}{'&' if '?' in session else '?'}{urlencode({'digest': digest})}"
        headers = {"Content-Type": "application/octet-stream"}
        stored = self._request("blob-upload", "PUT", url, repository, headers=headers, data=data)
        self._expect(stored, f"upload blob {digest} to {repository}")
        self.stats.add("blob_bytes_written", len(data))
        return digest

    def get_blob(self, repository: str, digest: str) -> bytes:
        """A (small) blob such as an image config, checked against its digest."""
        url = f"{self.location.base_url}/v2/{repository}/blobs/{digest}"
        response = self._request("blob-get", "GET", url, repository, max_body=MAX_BLOB_BYTES)
        self._expect(response, f"read blob {digest} of {repository}")
        self.stats.add("blob_bytes_read", len(response.body))
        if sha256_digest(response.body) != digest:
            raise Corrupt(f"blob {digest} of {repository} arrived with other content", hint="re-run promote")
        return response.body

    # -- sending -------------------------------------------------------------------------------

    def _request(
        self,
        kind: str,
        method: str,
        url: str,
        repository: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        max_body: int = MAX_MANIFEST_BYTES,
        stop: Callable[[], bool] | None = None,
    ) -> Response:
        """Send with authentication: on a 401, answer the challenge once and send again. `stop`: the HTTP layer's."""
        answered = False
        while True:
            sent = {**(headers or {}), **self._auth.header(repository)}
            response = self._send(kind, method, url, headers=sent, body=data, max_body=max_body, stop=stop)
            if response.status != 401 or answered:
                return response
            self._auth.answer(response, repository, sent.get("Authorization"))
            answered = True
            self.stats.add("auth_resends")

    def _send_token(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> Response:
        return self._send("token", "GET", url, headers=headers, params=params)

    def _send(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        max_body: int = MAX_MANIFEST_BYTES,
        stop: Callable[[], bool] | None = None,
    ) -> Response:
        """One exchange, each attempt counted as a request of `kind`; retried by the HTTP layer."""

        def count() -> None:
            self.stats.count(kind)

        return self._http.request(
            method,
            url,
            headers=headers,
            body=body,
            params=params,
            max_body=max_body,
            on_attempt=count,
            what=f"{self.location.host} did not complete {method} {urlsplit(url).path}",
            hint=GAVE_UP_HINT,
            stop=stop,
        )

    def _expect(self, response: Response, what: str) -> None:
        """An error naming what failed and why, unless the response is a success."""
        if response.ok:
            return
        status = response.status
        details = registry_errors(response)
        who = self.credentials.source if self.credentials else "no credentials (anonymous)"
        if status == 401:
            raise Unauthorized(
                f"{self.location.host} refused to let us {what}: not authenticated with {who} ({details})",
                hint=f"set valid credentials: {CREDENTIAL_SOURCES}",
            )
        if status == 403:
            raise Unauthorized(
                f"{self.location.host} denied the right to {what} to {who} ({details})",
                hint="the credentials need read and write access to the package (packages: write for GITHUB_TOKEN)",
            )
        raise status_error(status, f"could not {what}: HTTP {status} from {self.location.host} ({details})")
