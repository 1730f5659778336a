"""A thin client of a Python package index's simple API: a project's files, and downloads checked by sha256.

It asks for the PEP 691 JSON form and reads the PEP 503 HTML form when that is
what the index answers (content negotiation). Plain HTTP is allowed for loopback
hosts only, for the index page, for every file it links to and for every redirect
(the rules of `pipelines.edges.http`, which also retries, times out and keeps the
connection alive). A download goes to a temp file beside its target and is moved in
(`pipelines.edges.files.atomic_replace`) only when its sha256 equals the index's; a
file the index gives no sha256 for is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urldefrag, urljoin

from packaging.utils import canonicalize_name

from pipelines.core.errors import Corrupt, NotFound, RuleRefused
from pipelines.edges.files import atomic_replace, file_sha256
from pipelines.edges.http import (
    HttpClient,
    Response,
    RetryPolicy,
    Timeouts,
    join_url,
    require_secure_url,
    safe_url,
    shorten,
    status_error,
)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.01"
SUPPORTED_MAJOR = 1
INDEX_EXAMPLE = "an https index, e.g. https://HOST/simple/"
# Minutes for everything, as wheels are large and an index may be far; each read waits at most 2 minutes.
POLICY = RetryPolicy(max_time=1800.0)
TIMEOUTS = Timeouts(connect=10.0, read=120.0, request=900.0)
MAX_PAGE_BYTES = 64 << 20  # a project page lists every file of every release
MAX_FILE_BYTES = 4 << 30
HINT = "check --index URL and the network, then retry"
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class IndexFile:
    """One file of a project on the index, as its simple page lists it."""

    filename: str
    url: str
    sha256: str | None
    yanked: bool = False


def _major(version: str, where: str) -> None:
    major = version.split(".", 1)[0]
    # ASCII digits only, and few: int() refuses superscripts and more than 4300 digits with a ValueError.
    if not (major.isascii() and major.isdigit() and len(major) <= 6) or int(major) != SUPPORTED_MAJOR:
        raise Corrupt(
            f"{where} speaks simple API version {shorten(version, 40)}; this client reads version {SUPPORTED_MAJOR}.x",
            hint="use an index that serves the standard simple API",
        )


class _LinkParser(HTMLParser):
    """Collects the anchors of a PEP 503 project page and its repository-version meta tag."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.api_version: str | None = None
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []
        elif tag == "meta":
            fields = dict(attrs)
            if fields.get("name") == "pypi:repository-version":
                self.api_version = fields.get("content")

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text).strip()))
            self._open = None


def parse_json_page(page_url: str, payload: object) -> list[IndexFile]:
    """The files of a PEP 691 project-detail document; URLs resolved against the page."""
    if not isinstance(payload, dict) or not isinstance(payload.get("files"), list):
        raise Corrupt(f"{safe_url(page_url)} is not a PEP 691 project page (no files list)", hint="check --index URL")
    meta = payload.get("meta")
    _major(str(meta.get("api-version", "")) if isinstance(meta, dict) else "", safe_url(page_url))
    files = []
    for entry in payload["files"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str) or not entry.get("url"):
            raise Corrupt(f"{safe_url(page_url)} lists a file without filename or url", hint="check --index URL")
        hashes = entry.get("hashes")
        hashes = hashes if isinstance(hashes, dict) else {}
        yanked = entry.get("yanked", False)
        files.append(
            IndexFile(
                entry["filename"],
                _resolve(page_url, str(entry["url"])),
                _sha256(hashes.get("sha256")),
                yanked is not False and yanked is not None,
            )
        )
    return files


def parse_html_page(page_url: str, html: str) -> list[IndexFile]:
    """The files of a PEP 503 project page: anchor text, href, `#sha256=` fragment, data-yanked."""
    parser = _LinkParser()
    parser.feed(html)
    parser.close()
    if parser.api_version is not None:
        _major(parser.api_version, safe_url(page_url))
    files = []
    for attrs, text in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(_resolve(page_url, href))
        algorithm, _, digest = fragment.partition("=")
        filename = text or url.rsplit("/", 1)[-1]
        files.append(
            IndexFile(filename, url, _sha256(digest) if algorithm == "sha256" else None, "data-yanked" in attrs)
        )
    return files


def _resolve(page_url: str, reference: str) -> str:
    url = join_url(page_url, reference)
    if url is None:
        raise Corrupt(f"{safe_url(page_url)} links a file at a URL that does not parse", hint="check --index URL")
    return url


def _sha256(value: object) -> str | None:
    return value.lower() if isinstance(value, str) and _SHA256.fullmatch(value.lower()) else None


class PackageIndex:
    """The simple API of one index, e.g. `https://HOST/simple/`."""

    def __init__(self, base_url: str, http: HttpClient | None = None) -> None:
        require_secure_url(base_url, "index", INDEX_EXAMPLE)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.http = http or HttpClient(policy=POLICY, timeouts=TIMEOUTS)

    def close(self) -> None:
        self.http.close()

    def project_files(self, project: str) -> list[IndexFile]:
        """Every file the index lists for `project` (yanked ones flagged)."""
        url = urljoin(self.base_url, f"{canonicalize_name(project)}/")
        response = self._get(url, headers={"Accept": ACCEPT}, max_body=MAX_PAGE_BYTES)
        if response.status == 404:
            raise NotFound(f"{project} is not on the index {self.base_url}", hint="check --index URL and the project")
        self._raise_for_status(response, url)
        content_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type == JSON_TYPE:
            try:
                payload = response.json()
            except ValueError:
                raise Corrupt(f"{safe_url(url)} sent invalid JSON", hint="check --index URL") from None
            return parse_json_page(response.url, payload)
        if content_type in (HTML_TYPE, "text/html"):
            return parse_html_page(response.url, response.text)
        raise Corrupt(f"{safe_url(url)} answered {content_type or 'no content type'}", hint="check --index URL")

    def download(self, file: IndexFile, target: Path) -> str:
        """Download `file` to `target` and return its sha256, which must equal the index's."""
        expected = file.sha256
        if expected is None:
            raise RuleRefused(
                f"the index gives no sha256 for {file.filename}", hint="use an index that lists sha256 hashes"
            )
        require_secure_url(file.url, f"link to {file.filename}", INDEX_EXAMPLE)

        def write(temp: Path) -> None:
            with temp.open("wb") as handle:
                response = self._get(file.url, sink=handle, max_body=MAX_FILE_BYTES)
            self._raise_for_status(response, file.url)
            digest = file_sha256(temp)
            if digest != expected:
                raise Corrupt(
                    f"{file.filename}: sha256 {digest} differs from the index's {expected}",
                    hint="the download was altered or the index is inconsistent; retry, then report it",
                )

        atomic_replace(target, write)
        return expected

    def _get(
        self, url: str, *, max_body: int, headers: Mapping[str, str] | None = None, sink: BinaryIO | None = None
    ) -> Response:
        return self.http.request(
            "GET", url, headers=headers, max_body=max_body, sink=sink, what=f"cannot reach {safe_url(url)}", hint=HINT
        )

    @staticmethod
    def _raise_for_status(response: Response, url: str) -> None:
        if response.status >= 400:
            raise status_error(
                response.status,
                f"{safe_url(url)} answered HTTP {response.status}",
                hint="check --index URL, then retry",
            )
