"""A client for the OCI distribution API, on `requests`.

Owns every HTTP detail of talking to a registry: where it is (HOST[:PORT]/NAMESPACE;
plain HTTP only for loopback hosts), who we are (credentials from the environment or
the Docker config file), the Bearer token flow, tag lists that follow `Link`
pagination, manifest GET/HEAD/PUT with their exact bytes and digest checks, retries
with exponential backoff and jitter that honour Retry-After, a timeout on every
request and a bounded total time, and a count of every request sent. It knows
nothing of builds or releases.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from pipelines.core.digests import is_digest, sha256_digest
from pipelines.core.errors import CheckFailed, InputError
from pipelines.edges.urls import is_loopback_host, parse_retry_after
from pipelines.images.manifests import MANIFEST_MEDIA_TYPES, Manifest, parse_manifest

TAGS_PAGE_SIZE = 1000
GHCR = "ghcr.io"
ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES)
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
CREDENTIAL_SOURCES = (
    "REGISTRY_USERNAME and REGISTRY_PASSWORD, GITHUB_TOKEN (ghcr.io only), or `docker login` (Docker config auths)"
)

# Repository path components, as the distribution spec defines them.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_HOSTNAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+)(?::(?P<port>[0-9]{1,5}))?")
_CHALLENGE_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")


def hostname_of(host: str) -> str:
    """`127.0.0.1:5000` -> `127.0.0.1`; `[::1]:5000` -> `::1`."""
    match = _HOST.fullmatch(host)
    name = match.group("name") if match else host
    return name[1:-1] if name.startswith("[") else name


def is_loopback(host: str) -> bool:
    """Whether HOST[:PORT] is this machine, where plain HTTP is allowed."""
    return is_loopback_host(hostname_of(host))


@dataclass(frozen=True)
class RegistryLocation:
    """A registry host (with its port) and the namespace image repositories live under."""

    host: str
    namespace: str = ""

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def base_url(self) -> str:
        # Plain HTTP only where nothing leaves the machine.
        return f"{'http' if self.is_loopback else 'https'}://{self.host}"

    def repository(self, image_name: str) -> str:
        """The repository path of an image under the namespace, e.g. `percolation-labs/percolate`."""
        return f"{self.namespace}/{image_name}" if self.namespace else image_name

    def __str__(self) -> str:
        return f"{self.host}/{self.namespace}" if self.namespace else self.host


def parse_registry(text: str) -> RegistryLocation:
    """Parse `HOST[:PORT]/NAMESPACE` (the namespace may be empty or have several components)."""
    expected = "expected HOST[:PORT]/NAMESPACE, e.g. ghcr.io/percolation-labs or 127.0.0.1:5000/test"
    if "://" in text:
        raise InputError(f"registry {text!r} has a scheme", hint=f"drop the scheme: {expected}")
    host, _, namespace = text.partition("/")
    match = _HOST.fullmatch(host)
    if not match:
        raise InputError(f"registry {text!r} has no valid host", hint=expected)
    name, port = match.group("name"), match.group("port")
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            raise InputError(f"registry host {name!r} is not an IPv6 address", hint=expected) from None
    elif not _HOSTNAME.fullmatch(name):
        raise InputError(f"registry host {name!r} is not a valid host name", hint=expected)
    if port is not None and not 1 <= int(port) <= 65535:
        raise InputError(f"registry port {port} is outside 1-65535", hint=expected)
    namespace = namespace.rstrip("/")
    bad = [part for part in namespace.split("/") if not _COMPONENT.fullmatch(part)] if namespace else []
    if bad:
        raise InputError(
            f"registry namespace {namespace!r} has an invalid component {bad[0]!r}",
            hint="namespace components are lower-case letters and digits, joined by '.', '_', '__' or '-'",
        )
    return RegistryLocation(host.lower(), namespace)


@dataclass(frozen=True)
class Credentials:
    """A user name and secret for one registry, and where they came from (never the secret itself)."""

    username: str
    password: str = field(repr=False)
    source: str


def docker_config_path(environ: Mapping[str, str], home: Path) -> Path:
    """$DOCKER_CONFIG/config.json, else ~/.docker/config.json."""
    folder = environ.get("DOCKER_CONFIG")
    return (Path(folder) if folder else home / ".docker") / "config.json"


def read_docker_config(path: Path) -> dict[str, Any] | None:
    """The Docker config file as JSON, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(
            f"cannot read the Docker config {path}: {error.strerror}", hint="fix its permissions"
        ) from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InputError(
            f"the Docker config {path} is not JSON ({error})",
            hint="fix the file, or set REGISTRY_USERNAME and REGISTRY_PASSWORD",
        ) from None
    return document if isinstance(document, dict) else None


def _auth_key_host(key: str) -> str:
    """`https://ghcr.io/v1/` -> `ghcr.io`: Docker config keys are written with and without scheme and path."""
    return key.split("://", 1)[-1].split("/", 1)[0].lower()


def _docker_config_credentials(host: str, config: Mapping[str, Any], where: str) -> Credentials | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _auth_key_host(str(key)) != host or not isinstance(entry, dict):
            continue
        source = f"Docker config {where}"
        if entry.get("username") and entry.get("password"):
            return Credentials(str(entry["username"]), str(entry["password"]), source)
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                username, separator, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InputError(
                    f"the Docker config {where} has an 'auth' for {key} that is not base64 of user:password",
                    hint=f"run `docker login {host}` again, or set REGISTRY_USERNAME and REGISTRY_PASSWORD",
                ) from None
            if separator and username:
                return Credentials(username, password, source)
    return None


def find_credentials(
    host: str, environ: Mapping[str, str], docker_config: Mapping[str, Any] | None, docker_config_where: str = ""
) -> Credentials | None:
    """REGISTRY_USERNAME/REGISTRY_PASSWORD, else GITHUB_TOKEN for ghcr.io, else Docker config auths, else None."""
    username, password = environ.get("REGISTRY_USERNAME") or "", environ.get("REGISTRY_PASSWORD") or ""
    if bool(username) != bool(password):
        missing = "REGISTRY_PASSWORD" if username else "REGISTRY_USERNAME"
        raise InputError(f"{missing} is not set, but its partner is", hint="set both, or neither")
    if username:
        return Credentials(username, password, "REGISTRY_USERNAME/REGISTRY_PASSWORD")
    token = environ.get("GITHUB_TOKEN") or ""
    if token and host == GHCR:
        # ghcr.io checks the token, not the user name; the actor's name keeps its audit log readable.
        return Credentials(environ.get("GITHUB_ACTOR") or "github-actions", token, "GITHUB_TOKEN")
    if docker_config is not None:
        return _docker_config_credentials(host, docker_config, docker_config_where)
    return None


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer" or "basic"
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge:
    """Parse a `WWW-Authenticate` value such as `Bearer realm="…",service="…",scope="…"`."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _CHALLENGE_PARAM.match(rest, position)
        if not match or match.end() == position:
            break
        key, value = match.groups()
        if value.startswith('"'):
            value = _ESCAPE.sub(r"\1", value[1:-1])
        params[key.lower()] = value
        position = match.end()
    return Challenge(scheme.lower(), params)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for a registry: per request, between attempts, and for the whole run."""

    max_time: float = 300.0  # seconds for everything one client does
    max_attempts: int = 8  # per request
    base_delay: float = 0.5
    max_delay: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None, fraction: float) -> float:
    """The wait before retry number `attempt` (0 first): exponential with jitter, at least Retry-After.

    `fraction` in [0, 1) picks the jitter: half the exponential step is fixed, half random,
    so that clients failing together do not retry together.
    """
    step = min(policy.max_delay, policy.base_delay * 2**attempt)
    delay = step / 2 + step / 2 * fraction
    return max(delay, retry_after) if retry_after is not None else delay


@dataclass
class RequestStats:
    """Every request a client sent, by kind; retries and re-sends after a 401 are counted in there too."""

    sent: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    auth_resends: int = 0
    tag_list_pages: int = 0
    blob_bytes_read: int = 0

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_kind": dict(sorted(self.sent.items())),
            "retries": self.retries,
            "auth_resends": self.auth_resends,
            "tag_list_pages": self.tag_list_pages,
            "blob_bytes_read": self.blob_bytes_read,
            "blob_bytes_written": 0,
        }


@dataclass(frozen=True)
class TagListing:
    tags: tuple[str, ...]
    pages: int


def _error_codes(response: requests.Response) -> str:
    """The registry's `{"errors": [{"code", "message"}]}` as `CODE: message`, or the status reason."""
    try:
        errors = response.json().get("errors") or []
        described = [f"{e.get('code', '?')}: {e.get('message', '')}".strip() for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        described = []
    return "; ".join(described) or (response.reason or "no details")


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass
class _Token:
    value: str
    expires_at: float


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
        policy: RetryPolicy = RetryPolicy(),
        say: Callable[[str], None] | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.location = location
        self.credentials = credentials
        self.stats = RequestStats()
        self._push = push
        self._policy = policy
        self._say = say or (lambda message: None)
        self._session = session or requests.Session()
        if location.is_loopback:
            # A local registry must not be reached through a proxy from the environment.
            self._session.trust_env = False
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._started = clock()
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self._token_key: dict[str, tuple[str, str, str]] = {}  # repository -> the token key that serves it
        self._basic = False

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API ---------------------------------------------------------------------------------

    def list_tags(self, repository: str) -> TagListing:
        """Every tag of `repository`, following `Link` pages of up to 1000; an unknown repository has none."""
        base = self.location.base_url
        url = f"{base}/v2/{repository}/tags/list?n={TAGS_PAGE_SIZE}"
        tags: list[str] = []
        visited: set[str] = set()
        pages = 0
        while url:
            visited.add(url)
            response = self._request("tags", "GET", url, repository)
            if response.status_code == 404 and pages == 0:
                return TagListing((), 0)
            self._expect(response, f"list the tags of {repository}")
            pages += 1
            self.stats.tag_list_pages += 1
            try:
                page = response.json().get("tags") or []
            except (ValueError, AttributeError):
                raise CheckFailed(f"the tag list of {repository} from {self.location.host} is not JSON") from None
            tags.extend(str(tag) for tag in page)
            following = response.links.get("next", {}).get("url")
            url = urljoin(base + "/", following) if following else ""
            if url and (urlsplit(url).netloc != urlsplit(base).netloc or url in visited):
                raise CheckFailed(
                    f"the tag list of {repository} points its next page at {following!r}, "
                    "another host or a page already read",
                    hint="the registry's pagination is broken; report it to the registry's operators",
                )
            if url:
                self._say(f"  {len(tags)} tags so far ({pages} pages)")
        return TagListing(tuple(tags), pages)

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest or index at a tag or digest, as its exact bytes; its digest is checked."""
        url = f"{self.location.base_url}/v2/{repository}/manifests/{reference}"
        response = self._request("manifest-get", "GET", url, repository, headers={"Accept": ACCEPT_MANIFESTS})
        where = f"{self.location.host}/{repository}:{reference}"
        if response.status_code == 404:
            raise CheckFailed(f"{where} is not in the registry ({_error_codes(response)})")
        self._expect(response, f"read {where}")
        manifest = parse_manifest(response.headers.get("Content-Type"), response.content, where)
        served = response.headers.get("Docker-Content-Digest", "")
        expected = reference if is_digest(reference) else served if served.startswith("sha256:") else None
        if expected is not None and expected != manifest.digest:
            raise CheckFailed(
                f"{where}: the registry says digest {expected}, but the bytes it sent hash to {manifest.digest}",
                hint="a proxy or the registry altered the manifest; do not promote from it",
            )
        return manifest

    def head_manifest(self, repository: str, reference: str) -> str | None:
        """The digest a tag points at, or None when there is no such tag."""
        url = f"{self.location.base_url}/v2/{repository}/manifests/{reference}"
        response = self._request("manifest-head", "HEAD", url, repository, headers={"Accept": ACCEPT_MANIFESTS})
        if response.status_code == 404:
            return None
        self._expect(response, f"check {self.location.host}/{repository}:{reference}")
        digest = response.headers.get("Docker-Content-Digest", "")
        return digest if is_digest(digest) else self.get_manifest(repository, reference).digest

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Store `manifest` byte for byte under a tag; returns its digest, checked against the registry's."""
        url = f"{self.location.base_url}/v2/{repository}/manifests/{reference}"
        response = self._request(
            "manifest-put", "PUT", url, repository, headers={"Content-Type": manifest.media_type}, data=manifest.data
        )
        where = f"{self.location.host}/{repository}:{reference}"
        self._expect(response, f"write {where}")
        stored = response.headers.get("Docker-Content-Digest", "")
        if stored.startswith("sha256:") and stored != manifest.digest:
            raise CheckFailed(
                f"{where}: the registry stored digest {stored}, but the manifest sent has {manifest.digest}",
                hint="the registry rewrote the manifest; promote copies byte for byte and cannot use it",
            )
        return manifest.digest

    def get_blob(self, repository: str, digest: str) -> bytes:
        """A (small) blob such as an image config, checked against its digest."""
        url = f"{self.location.base_url}/v2/{repository}/blobs/{digest}"
        response = self._request("blob-get", "GET", url, repository)
        self._expect(response, f"read blob {digest} of {repository}")
        self.stats.blob_bytes_read += len(response.content)
        if sha256_digest(response.content) != digest:
            raise CheckFailed(f"blob {digest} of {repository} arrived with other content", hint="re-run promote")
        return response.content

    # -- authentication ------------------------------------------------------------------------

    def _auth_header(self, repository: str) -> dict[str, str]:
        if self._basic and self.credentials is not None:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        key = self._token_key.get(repository)
        if key is None:
            return {}
        token = self._tokens.get(key)
        if token is None or token.expires_at <= self._clock():
            token = self._fetch_token(*key)
        return {"Authorization": f"Bearer {token.value}"}

    def _authenticate(self, response: requests.Response, repository: str) -> None:
        """Answer a 401 challenge so that the request can be sent again."""
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge.scheme == "basic":
            if self.credentials is None:
                raise self._credentials_needed(repository)
            self._basic = True
            return
        if challenge.scheme != "bearer" or not challenge.params.get("realm"):
            raise CheckFailed(
                f"{self.location.host} asks for authentication this client does not speak: "
                f"{challenge.scheme or 'no challenge'}",
                hint="registries speak Bearer tokens or Basic authentication",
            )
        scope = challenge.params.get("scope", "")
        if self._push and scope.startswith("repository:") and scope.endswith(":pull"):
            scope += ",push"
        key = (challenge.params["realm"], challenge.params.get("service", ""), scope)
        self._tokens.pop(key, None)  # a 401 means the token we sent, if any, no longer serves
        self._token_key[repository] = key

    def _fetch_token(self, realm: str, service: str, scope: str) -> _Token:
        parts = urlsplit(realm)
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(parts.hostname)):
            raise CheckFailed(
                f"{self.location.host} sends us to the token service {realm}, which is not HTTPS",
                hint="credentials only travel over HTTPS (plain HTTP only on loopback)",
            )
        params = {name: value for name, value in (("service", service), ("scope", scope)) if value}
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        response = self._send("token", "GET", realm, headers={}, params=params, auth=auth)
        if response.status_code in (401, 403):
            if self.credentials is None:
                raise self._credentials_needed(scope)
            raise CheckFailed(
                f"the token service of {self.location.host} refused the credentials from {self.credentials.source} "
                f"for {scope or 'this registry'} ({_error_codes(response)})",
                hint=f"check them; credentials come from {CREDENTIAL_SOURCES}",
            )
        self._expect(response, f"get a token from {realm}")
        try:
            body = response.json()
            value = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            value = None
        if not isinstance(value, str) or not value:
            raise CheckFailed(f"the token service {realm} answered without a token", hint="re-run promote")
        token = _Token(value, self._clock() + max(lifetime - 5, 1))  # renew a little early
        self._tokens[(realm, service, scope)] = token
        return token

    def _credentials_needed(self, what: str) -> CheckFailed:
        return CheckFailed(
            f"{self.location.host} requires credentials for {what}, and none were found",
            hint=f"set {CREDENTIAL_SOURCES}",
        )

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
    ) -> requests.Response:
        """Send with authentication: on a 401, answer the challenge once and send again."""
        answered = False
        while True:
            response = self._send(
                kind, method, url, headers={**(headers or {}), **self._auth_header(repository)}, data=data
            )
            if response.status_code != 401 or answered:
                return response
            self._authenticate(response, repository)
            answered = True
            self.stats.auth_resends += 1

    def _send(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: bytes | None = None,
        params: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        """One exchange, retried on dropped connections, timeouts, 429 and 5xx, within the time limit."""
        policy = self._policy
        path = urlsplit(url).path
        attempt = 0
        while True:
            remaining = self._started + policy.max_time - self._clock()
            if remaining <= 0:
                raise self._gave_up(method, path, "the time limit was reached", attempt)
            self.stats.sent[kind] += 1
            retry_after: float | None = None
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=dict(headers),
                    data=data,
                    params=params,
                    auth=auth,
                    timeout=(min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining)),
                    allow_redirects=method == "GET",
                )
            except requests.exceptions.SSLError as error:
                raise CheckFailed(
                    f"TLS with {urlsplit(url).netloc} failed: {_short(error)}",
                    hint="check the registry's certificate and the host name in --registry",
                ) from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                fault = f"connection failed ({_short(error)})"
            except requests.RequestException as error:
                raise CheckFailed(f"{method} {url} failed: {_short(error)}") from None
            else:
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                fault = f"HTTP {response.status_code} ({_error_codes(response)})"
                retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            attempt += 1
            delay = backoff_delay(attempt - 1, policy, retry_after, self._rng.random())
            if attempt >= policy.max_attempts:
                raise self._gave_up(method, path, fault, attempt)
            if self._clock() + delay > self._started + policy.max_time:
                raise self._gave_up(method, path, f"{fault}; the next try would pass the time limit", attempt)
            self.stats.retries += 1
            self._say(f"  {method} {path}: {fault}; retrying in {delay:.1f}s")
            self._sleep(delay)

    def _gave_up(self, method: str, path: str, fault: str, attempts: int) -> CheckFailed:
        elapsed = self._clock() - self._started
        return CheckFailed(
            f"{self.location.host} did not complete {method} {path}: {fault} "
            f"(gave up after {attempts} attempt(s), {elapsed:.0f}s of the {self._policy.max_time:.0f}s limit)",
            hint="the registry is failing or rate-limiting; run promote again later: it completes what this run "
            "left, and never moves a tag it wrote",
        )

    def _expect(self, response: requests.Response, what: str) -> None:
        """CheckFailed naming what failed and why, unless the response is a success."""
        if response.ok:
            return
        status = response.status_code
        details = _error_codes(response)
        who = self.credentials.source if self.credentials else "no credentials (anonymous)"
        if status == 401:
            raise CheckFailed(
                f"{self.location.host} refused to let us {what}: not authenticated with {who} ({details})",
                hint=f"set valid credentials: {CREDENTIAL_SOURCES}",
            )
        if status == 403:
            raise CheckFailed(
                f"{self.location.host} denied the right to {what} to {who} ({details})",
                hint="the credentials need read and write access to the package (packages: write for GITHUB_TOKEN)",
            )
        raise CheckFailed(f"could not {what}: HTTP {status} from {self.location.host} ({details})")
