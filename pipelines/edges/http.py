"""One HTTP layer for every client of the pipelines (registry, package index, GitHub).

It owns what those clients share: the https-or-loopback rule for every URL and redirect; the
connection (user agent, connect and read timeouts, keep-alive per scheme/host/port, TLS always
verified against the system CA store or REQUESTS_CA_BUNDLE / SSL_CERT_FILE, HTTPS_PROXY with
NO_PROXY as a CONNECT tunnel, never a proxy for loopback); a total deadline per request and one
per client, applied to every socket read so that a trickling server cannot stretch either; a cap
on bodies; redirects of GET and HEAD only (at most 5, Authorization dropped when the origin
changes); the `Response` value; retries under `pipelines.edges.retry`; errors by cause.
Messages are our own words ("connection refused", "timed out"), never a lower layer's exception
text, and URLs in them lose userinfo and query (`safe_url`): no credential reaches output.
Not `requests`: importing it costs 45-110 ms of CLI start, and its read timeout applies per socket
read, so a server sending a byte every few seconds stretches any timeout forever.
Not `http.client` either: it loads `email` and `ssl` on import, even for a plain-http registry; the
bytes on the wire are read and written by `http_wire`. Values and rules that hold no connection are in
`http_rules`. A client may be used from several threads at once: requests sent together each hold a
kept-alive connection of their own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from random import Random
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlencode, urlsplit

from pipelines.core.errors import Corrupt, InputError, Unavailable
from pipelines.core.secrets import remember
from pipelines.core.values import Value
from pipelines.edges.http_rules import (
    MAX_HEADER_VALUE,
    Headers,
    Link,
    Proxy,
    Response,
    TransportError,
    basic_authorization,
    check_request,
    clean_credential,
    is_clean_credential,
    is_loopback_host,
    is_sendable_url,
    join_url,
    message_url,
    origin,
    parse_link_header,
    proxy_for,
    require_secure_url,
    safe_url,
    shorten,
    status_error,
    too_big,
    translate,
)
from pipelines.edges.http_wire import Connection, host_header
from pipelines.edges.retry import RETRYABLE_STATUS, Deadline, Retrier, Retry, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    import ssl

__all__ = [
    "MAX_BODY",
    "MAX_HEADER_VALUE",
    "Headers",
    "HttpClient",
    "Link",
    "Proxy",
    "Response",
    "RetryPolicy",
    "Timeouts",
    "TransportError",
    "basic_authorization",
    "clean_credential",
    "is_clean_credential",
    "is_loopback_host",
    "join_url",
    "message_url",
    "parse_link_header",
    "parse_retry_after",
    "proxy_for",
    "require_secure_url",
    "safe_url",
    "shorten",
    "status_error",
]

USER_AGENT = "percolate-pipelines"
MAX_REDIRECTS = 5
MAX_BODY = 32 << 20  # bytes of one answer kept in memory, unless the caller states its own cap
RETRY_HINT = "the service is failing, rate-limiting or unreachable; run again later"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})


class Timeouts(Value):
    """Seconds to wait: for a connection, for any one socket read, and for a whole request with its redirects."""

    connect: float = 10.0
    read: float = 60.0
    request: float = 300.0


class HttpClient:
    """Sends one client's requests under one retry policy and one deadline, over kept-alive connections."""

    def __init__(
        self,
        *,
        policy: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        headers: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        say: Callable[[str], None] | None = None,
        describe: Callable[[Response], str] | None = None,
    ) -> None:
        self.timeouts = timeouts or Timeouts()
        self.deadline = Deadline((policy or RetryPolicy()).max_time, clock)
        self.retrier = Retrier(policy or RetryPolicy(), self.deadline, sleep=sleep, rng=rng, say=say)
        self.connections_opened = 0
        self._headers = {"User-Agent": USER_AGENT, **(headers or {})}
        self._environ = os.environ if environ is None else environ
        self._clock, self._now = clock, now
        self._describe = describe or (lambda response: response.excerpt())
        # Idle kept-alive connections per origin. A request takes one (or opens one) and gives it back
        # once its answer is read to the end, whichever thread sends the next: requests sent at once
        # each hold their own, and a TLS handshake is paid only when none is idle.
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._remembered: set[str] = set()

    @property
    def retries(self) -> int:
        return self.retrier.retries

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
        max_body: int = MAX_BODY,
        sink: BinaryIO | None = None,
        on_attempt: Callable[[], None] | None = None,
        what: str | None = None,
        hint: str = RETRY_HINT,
        stop: Callable[[], bool] | None = None,
    ) -> Response:
        """Send, retrying connection faults, timeouts, 429 and 5xx within the policy; any other answer is returned.

        A POST is retried only when the server answered (429, 5xx): after a lost answer it may have
        been carried out, and it is not idempotent.

        A success's body goes to `sink` when given (rewound before each attempt), else into the
        Response. `on_attempt` runs before each attempt (to count them); `what` names the request
        in the `Unavailable` raised when tries or time run out, or when `stop` says the caller no
        longer needs the answer (checked before each attempt and while waiting for the next).
        """
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        host, path = origin(url)[1], urlsplit(url).path or "/"
        what = what or f"{host} did not complete {method} {path}"

        def attempt() -> Response | Retry:
            if on_attempt is not None:
                on_attempt()
            try:
                response = self.send(method, url, headers=headers, body=body, max_body=max_body, sink=sink)
            except TransportError as fault:
                if method == "POST":
                    # A POST may have landed before its answer was lost; sending it again could do it twice.
                    raise Unavailable(
                        f"{what}: connection failed ({fault.reason}); a POST is not sent twice",
                        hint="run the command again: it first looks for what an earlier run may have made",
                    ) from None
                return Retry(f"connection failed ({fault.reason})")
            if response.status not in RETRYABLE_STATUS:
                return response
            wait = parse_retry_after(response.headers.get("Retry-After"), self._now())
            return Retry(f"HTTP {response.status} ({self._describe(response)})", wait)

        return self.retrier.run(attempt, what, hint, label=f"{method} {path}", stop=stop)

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        max_body: int = MAX_BODY,
        sink: BinaryIO | None = None,
    ) -> Response:
        """One attempt, redirects of GET and HEAD followed; TransportError when no whole answer came."""
        until = self._clock() + min(self.deadline.remaining(), self.timeouts.request)
        sent = {**self._headers, **(headers or {})}
        require_secure_url(url, "URL", "an https URL")  # callers check first, naming the URL's role
        check_request(url, sent)
        self._remember_credentials(sent)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(method, url, sent, body, until, max_body, sink)
            location = response.headers.get("Location", "").strip()
            if method not in ("GET", "HEAD") or response.status not in _REDIRECTS or not location:
                return response
            target = join_url(url, location)
            if target is None or not is_sendable_url(target):
                raise Corrupt(f"{message_url(url)} redirects to a URL that does not parse", hint="check the URL")
            require_secure_url(target, f"the redirect target of {message_url(url)}", "a server that redirects to https")
            self._check_redirect(url, target)
            if origin(target) != origin(url):  # credentials meant for one origin never go to another
                sent = {name: value for name, value in sent.items() if name.lower() != "authorization"}
            url = target
        raise Corrupt(f"{message_url(url)} redirects more than {MAX_REDIRECTS} times", hint="check the URL")

    @staticmethod
    def _check_redirect(url: str, target: str) -> None:
        """Refuse a redirect from https to plain http, and from a remote host to this machine: a server
        elsewhere must not reach a local service through us and have its answer taken for its own."""
        source, destination = urlsplit(url), urlsplit(target)
        downgrade = source.scheme == "https" and destination.scheme != "https"
        inward = not is_loopback_host(source.hostname) and is_loopback_host(destination.hostname)
        if downgrade or inward:
            raise Corrupt(
                f"{message_url(url)} redirects to {message_url(target)}: "
                + ("from https to plain http" if downgrade else "from a remote host to this machine"),
                hint="check the URL; a registry, index or API never sends us there",
            )

    def _remember_credentials(self, headers: Mapping[str, str]) -> None:
        """Add the credentials this request carries to the secrets no output shows, whoever set them: a server
        echoing its request into an error's body is then redacted even where a caller forgot to remember."""
        for name, value in headers.items():
            if name.lower() in _CREDENTIAL_HEADERS and value not in self._remembered:
                self._remembered.add(value)
                remember(value.split(" ", 1)[-1])  # the credential without its scheme ("Bearer", "Basic")

    def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        until: float,
        max_body: int,
        sink: BinaryIO | None,
    ) -> Response:
        key, parts = origin(url), urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection: Connection | None = None
        try:
            connection = self._connection(key, until)
            connection.send_request(method, target, host_header(*key), headers, body)
            answer = connection.read_answer(method)
            if answer.length is not None and answer.length > max_body:
                raise too_big(url, max_body)
            data = self._read(answer.body(), until, max_body, sink if 200 <= answer.status < 300 else None, url)
        except BaseException as error:
            if connection is not None:
                connection.close()  # a connection that failed mid-exchange is in an unknown state
            fault = translate(error, key[1], late=self._clock() >= until)
            if fault is None:
                raise
            raise fault from None
        if answer.reusable:
            with self._lock:
                self._idle.setdefault(key, []).append(connection)
        else:
            connection.close()
        return Response(answer.status, answer.reason, answer.headers, data, url)

    def _read(self, body: Iterator[bytes], until: float, max_body: int, sink: BinaryIO | None, url: str) -> bytes:
        """The body, one socket read at a time with the deadline checked between reads; refused past `max_body`."""
        chunks: list[bytes] = []
        size = 0
        if sink is not None:
            sink.seek(0)
            sink.truncate()
        for chunk in body:
            size += len(chunk)
            if size > max_body:
                raise too_big(url, max_body)
            if self._clock() >= until:
                raise TimeoutError("deadline")
            if sink is not None:
                sink.write(chunk)
            else:
                chunks.append(chunk)
        return b"".join(chunks)

    def _connection(self, key: tuple[str, str, int], until: float) -> Connection:
        """An idle kept-alive connection to (scheme, host, port), or a new one (through the proxy, if any)."""
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                if not connection.dropped():
                    connection.until = until
                    return connection
                connection.close()
        scheme, host, port = key
        connection = Connection.open(
            scheme,
            host,
            port,
            proxy=proxy_for(host, port, self._environ) if scheme == "https" else None,
            tls=self._tls_context,
            connect_timeout=self.timeouts.connect,
            read_timeout=self.timeouts.read,
            clock=self._clock,
            until=until,
        )
        with self._lock:
            self.connections_opened += 1
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        """Verified TLS: the system CA store, or the bundle REQUESTS_CA_BUNDLE or SSL_CERT_FILE names."""
        import ssl  # only an https connection needs it, a few milliseconds of every command's start otherwise

        if self._tls is None:
            name = next((n for n in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE") if self._environ.get(n)), None)
            try:
                self._tls = ssl.create_default_context(cafile=self._environ[name] if name else None)
            except (OSError, ssl.SSLError):
                raise InputError(
                    f"{name} does not name a readable PEM file of CA certificates", hint=f"fix or unset {name}"
                ) from None
        return self._tls
