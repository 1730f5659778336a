"""One HTTP layer for every client of the pipelines (registry, package index, GitHub), on `http.client`.

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
Values and rules that hold no connection are in `http_rules`. A client may be used from several threads at
once: requests sent together each hold a kept-alive connection of their own.
"""

from __future__ import annotations

import http.client
import io
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from random import Random
from typing import Any, BinaryIO
from urllib.parse import urlencode, urlsplit

from pipelines.core.errors import Corrupt, InputError, Unavailable
from pipelines.core.values import Value
from pipelines.edges.http_rules import (
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
    join_url,
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
from pipelines.edges.retry import RETRYABLE_STATUS, Deadline, Retrier, Retry, RetryPolicy, parse_retry_after

__all__ = [
    "MAX_BODY",
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
_CHUNK = 64 << 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Timeouts(Value):
    """Seconds to wait: for a connection, for any one socket read, and for a whole request with its redirects."""

    connect: float = 10.0
    read: float = 60.0
    request: float = 300.0


class _TimedSocket:
    """A connected socket whose every read and write waits at most min(read timeout, time left to `until`).

    `http.client` reads status line, headers and body through `makefile`, one `recv_into` at a
    time; cutting each wait to the deadline bounds the whole request, however slowly bytes come.
    """

    def __init__(self, sock: socket.socket, read_timeout: float, clock: Callable[[], float], until: float) -> None:
        self._sock, self._read_timeout, self._clock, self.until = sock, read_timeout, clock, until
        self._files, self._closed = 0, False

    def _wait(self) -> float:
        left = self.until - self._clock()
        if left <= 0:
            raise TimeoutError("deadline")
        return min(self._read_timeout, left)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._sock.settimeout(self._wait())
        # An SSL socket reads nothing when told 0 bytes, where a plain one fills the buffer: say how many.
        return self._sock.recv_into(buffer, nbytes or memoryview(buffer).nbytes, flags)

    def sendall(self, data: Any) -> None:
        self._sock.settimeout(self._wait())
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        # As a socket does: closing waits until the last file made from it (a response's body) is closed.
        self._files -= 1
        if self._closed and self._files <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._files <= 0:
            self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def dropped(self) -> bool:
        """Whether an idle kept-alive connection was closed by the server: readable means EOF (or stray bytes)."""
        try:
            return bool(select.select([self._sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True


def _open_socket(
    address: tuple[str, int], timeout: float | None, source_address: tuple[str, int] | None = None
) -> socket.socket:
    """`socket.create_connection`, given an ASCII host name as bytes: a str host name is first encoded with
    the idna codec, and importing that codec (stringprep, unicodedata) costs more than a loopback request."""
    host, port = address
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    return socket.create_connection((name, port), timeout, source_address)  # type: ignore[arg-type]


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
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

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
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(method, url, sent, body, until, max_body, sink)
            location = response.headers.get("Location", "").strip()
            if method not in ("GET", "HEAD") or response.status not in _REDIRECTS or not location:
                return response
            target = join_url(url, location)
            if target is None:
                raise Corrupt(f"{safe_url(url)} redirects to a URL that does not parse", hint="check the URL")
            require_secure_url(target, f"the redirect target of {safe_url(url)}", "a server that redirects to https")
            check_request(target, sent)
            if origin(target) != origin(url):  # credentials meant for one origin never go to another
                sent = {name: value for name, value in sent.items() if name.lower() != "authorization"}
            url = target
        raise Corrupt(f"{safe_url(url)} redirects more than {MAX_REDIRECTS} times", hint="check the URL")

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
        answer: http.client.HTTPResponse | None = None
        connection: http.client.HTTPConnection | None = None
        try:
            connection = self._connection(key, until)
            connection.request(method, target, body, dict(headers))
            answer = connection.getresponse()
            declared = answer.getheader("Content-Length") or ""
            if declared.isascii() and declared.isdigit() and int(declared) > max_body:  # "²" is a digit too
                raise too_big(url, max_body)
            data = self._read(answer, until, max_body, sink if 200 <= answer.status < 300 else None, url)
        except BaseException as error:
            if answer is not None:
                answer.close()  # its socket closes once the answer lets go of it
            if connection is not None:
                connection.close()  # a connection that failed mid-exchange is in an unknown state
            fault = translate(error, key[1], late=self._clock() >= until)
            if fault is None:
                raise
            raise fault from None
        if answer.will_close:
            connection.close()
        else:
            with self._lock:
                self._idle.setdefault(key, []).append(connection)
        return Response(answer.status, answer.reason, Headers(answer.getheaders()), data, url)

    def _read(
        self, answer: http.client.HTTPResponse, until: float, max_body: int, sink: BinaryIO | None, url: str
    ) -> bytes:
        """The body, one socket read at a time with the deadline checked between reads; refused past `max_body`."""
        chunks: list[bytes] = []
        size = 0
        if sink is not None:
            sink.seek(0)
            sink.truncate()
        while chunk := answer.read1(_CHUNK):
            size += len(chunk)
            if size > max_body:
                raise too_big(url, max_body)
            if self._clock() >= until:
                raise TimeoutError("deadline")
            if sink is not None:
                sink.write(chunk)
            else:
                chunks.append(chunk)
        if answer.length:  # the server closed the connection before Content-Length bytes came
            raise http.client.IncompleteRead(b"", answer.length)
        answer.close()  # read to the end: the connection can carry the next request
        return b"".join(chunks)

    def _connection(self, key: tuple[str, str, int], until: float) -> http.client.HTTPConnection:
        """An idle kept-alive connection to (scheme, host, port), or a new one (through the proxy, if any)."""
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                connection = idle.pop()
                if isinstance(connection.sock, _TimedSocket) and not connection.sock.dropped():
                    connection.sock.until = until
                    return connection
                connection.close()
        scheme, host, port = key
        left = until - self._clock()
        if left <= 0:
            raise TimeoutError("deadline")
        proxy = proxy_for(host, port, self._environ) if scheme == "https" else None
        address = (proxy.host, proxy.port) if proxy else (host, port)
        if scheme == "https":
            connection = http.client.HTTPSConnection(*address, timeout=left, context=self._tls_context())
        else:
            connection = http.client.HTTPConnection(*address, timeout=left)
        connection.timeout = min(self.timeouts.connect, left)
        connection._create_connection = _open_socket  # type: ignore[attr-defined]  # http.client's own hook
        if proxy is not None:
            connection.set_tunnel(host, port, headers=dict(proxy.headers))
        try:
            connection.connect()
        except BaseException:
            connection.close()
            raise
        connection.sock = _TimedSocket(connection.sock, self.timeouts.read, self._clock, until)
        with self._lock:
            self.connections_opened += 1
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        """Verified TLS: the system CA store, or the bundle REQUESTS_CA_BUNDLE or SSL_CERT_FILE names."""
        if self._tls is None:
            name = next((n for n in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE") if self._environ.get(n)), None)
            try:
                self._tls = ssl.create_default_context(cafile=self._environ[name] if name else None)
            except (OSError, ssl.SSLError):
                raise InputError(
                    f"{name} does not name a readable PEM file of CA certificates", hint=f"fix or unset {name}"
                ) from None
        return self._tls
