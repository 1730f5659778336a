"""HTTP/1.1 on one socket: a request's bytes out; one answer's status line, header fields and framed body in.

This is the part of the HTTP layer that `http.client` was. Importing `http.client` loads `email`
(its header parser) and `ssl` (for its HTTPS class), even for a plain-http registry on loopback:
about 10 ms of a 100 ms `promote` (issue 23). This module reads only what `pipelines.edges.http`
needs, and refuses what it does not understand rather than guessing:
- the status line `HTTP/1.x NNN reason`, status 100-599; interim 1xx answers are skipped, 101 refused
  (nothing here asks to switch protocols);
- at most 100 header lines (folded lines count) of at most 64 KiB each; a folded line joins its
  field with one space (RFC 9112 5.2); a line that is no `name: value` field is refused;
- the body framed as RFC 9112 6.3 says: none for HEAD, 1xx, 204 and 304; chunks when
  Transfer-Encoding is `chunked` (any other transfer coding is refused: none was asked for, and
  nothing here decodes one); else Content-Length (repeated only with one value; space and tab
  around it, nothing else); else until the server closes;
- at most 10 interim answers before the final one;
- a connection is used again only when its answer was framed by length or chunks and read to
  its end, nothing followed it, and neither side said close (nor was Content-Length sent beside
  Transfer-Encoding, which RFC 9112 6.1 says ends the connection).
Every read and write waits at most min(read timeout, time left to `until`): a server sending a
byte at a time cannot stretch a request past its deadline. `ssl` is imported by the client for its
first https connection only; over TLS, a TCP close without close_notify is a cut, never the end of
a body, and a record no key made is a connection fault. Faults are `TransportError`, in our own
words, or `TunnelRefused` when a proxy will not open a tunnel.
"""

from __future__ import annotations

import re
import select
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from pipelines.edges.http_rules import (
    HEADER_NAME,
    Headers,
    Proxy,
    TransportError,
    TunnelRefused,
    authority,
    is_tls_cut,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl

Argument = TypeVar("Argument")
Result = TypeVar("Result")

MAX_LINE = 64 << 10  # bytes of a status, header, chunk-size or trailer line
MAX_LINES = 100  # header lines of an answer, and trailer lines of a chunked body
MAX_INTERIM = 10  # 1xx answers before the final one
BEYOND_ANY_CAP = 10**18  # the length of a body declared with more digits than that: far over every cap
_READ = 64 << 10
_STATUS_LINE = re.compile(rb"HTTP/1\.([0-9]) ([1-5][0-9][0-9])(?: (.*))?")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")  # under 2**60: beyond any body cap, never a huge int
_BLANK = b" \t"
_NOT_HTTP = "the answer was not HTTP/1.x"
_CUT = "the answer was cut short"


def open_socket(address: tuple[str, int], timeout: float) -> socket.socket:
    """`socket.create_connection` (the host name as `_ascii_name`), without Nagle's algorithm."""
    host, port = address
    sock = socket.create_connection((_ascii_name(host), port), timeout)  # type: ignore[arg-type]
    # A body over one read's size goes out after its head: without this, its last segment would wait
    # for the server's delayed ACK of the head (Nagle's algorithm), up to 40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def host_header(scheme: str, host: str, port: int) -> str:
    """The Host field: an IPv6 address in brackets, the port only when it is not the scheme's own."""
    return authority(host, None if port == (443 if scheme == "https" else 80) else port)


def _ascii_name(host: str) -> str | bytes:
    """An ASCII host name as bytes, as socket and ssl take it: given a str, both first run it through the idna
    codec, whose import (stringprep, unicodedata) costs more than a loopback request, and which raises its
    own UnicodeError for a label over 63 characters."""
    return host.encode("ascii") if host.isascii() else host


class Connection:
    """One HTTP/1.1 connection: its socket, bytes read but not yet used, and the deadline of the current request."""

    def __init__(self, sock: socket.socket, read_timeout: float, clock: Callable[[], float], until: float) -> None:
        self.until = until
        self._sock, self._read_timeout, self._clock = sock, read_timeout, clock
        self._buffer = bytearray()
        self._minor = 1  # of the last status line read: HTTP/1.0 closes unless it says keep-alive

    @classmethod
    def open(
        cls,
        scheme: str,
        host: str,
        port: int,
        *,
        proxy: Proxy | None,
        tls: Callable[[], ssl.SSLContext],
        connect_timeout: float,
        read_timeout: float,
        clock: Callable[[], float],
        until: float,
    ) -> Connection:
        """Connect (through `proxy`'s CONNECT tunnel, if given) and, for https, verify TLS with `tls()`."""
        left = until - clock()
        if left <= 0:
            raise TimeoutError("deadline")
        sock = open_socket((proxy.host, proxy.port) if proxy else (host, port), min(connect_timeout, left))
        try:
            if proxy is not None:
                tunnel = cls(sock, read_timeout, clock, until)
                target = authority(host, port)
                tunnel.send_request("CONNECT", target, target, proxy.headers)
                status, reason, _ = tunnel._head()
                if not 200 <= status < 300:
                    raise TunnelRefused(status, reason)
                if tunnel.unread:  # a tunnel carries nothing before our own TLS handshake
                    raise TransportError(_NOT_HTTP)
            if scheme == "https":
                sock.settimeout(min(connect_timeout, max(until - clock(), 0.001)))
                # A TCP close without TLS's close_notify is an error, not an end: anyone on the path can
                # forge it, cutting a body that runs until the close.
                sock = tls().wrap_socket(sock, server_hostname=_ascii_name(host), suppress_ragged_eofs=False)
        except BaseException:
            sock.close()
            raise
        return cls(sock, read_timeout, clock, until)

    def close(self) -> None:
        self._sock.close()

    def dropped(self) -> bool:
        """Whether an idle connection can no longer carry a request: the server closed it or sent unasked bytes."""
        pending = getattr(self._sock, "pending", None)  # a TLS socket's bytes decrypted but not yet read
        if self.unread or (pending is not None and pending()):
            return True
        try:
            return bool(select.select([self._sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def send_request(
        self, method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> None:
        """Write the request line, Host, the headers and the body. The caller has checked names and values
        (`http_rules.check_request`): no line break, nothing outside Latin-1."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        if method != "CONNECT" and "accept-encoding" not in {name.lower() for name in headers}:
            lines.append("Accept-Encoding: identity")  # a body as sent: nothing here decompresses
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if body and len(body) <= _READ:
            self._send(head + body)
        else:
            self._send(head)
            if body:
                self._send(body)

    def read_answer(self, method: str) -> Answer:
        """The next final answer's status line and header fields; its body is read with `Answer.body`."""
        for _ in range(MAX_INTERIM + 1):
            status, reason, headers = self._head()
            if not 100 <= status < 200:
                break
            if status == 101:  # nothing here asks to switch protocols
                raise TransportError(_NOT_HTTP)
        else:
            raise TransportError(_NOT_HTTP)  # a server sending only interim answers
        connection = _tokens(headers.get("Connection", ""))
        closes = "close" in connection or (self._minor == 0 and "keep-alive" not in connection)
        coding, length = headers.get("Transfer-Encoding"), headers.get("Content-Length")
        if method == "HEAD" or status in (204, 304):
            return Answer(self, status, reason, headers, "none", None, closes)
        if coding is not None:
            if _tokens(coding) != ["chunked"]:  # we asked for none: gzip or any other would be bytes we cannot read
                raise TransportError(_NOT_HTTP)
            # A length beside chunks, or chunks in HTTP/1.0, is faulty framing (RFC 9112 6.1): the connection ends.
            faulty = length is not None or self._minor == 0
            return Answer(self, status, reason, headers, "chunked", None, closes or faulty)
        if length is not None:
            values = {value.strip(" \t") for value in length.split(",")}
            declared = values.pop() if len(values) == 1 else ""
            if not (declared.isascii() and declared.isdigit()):  # "²" is a digit to str.isdigit, not to int
                raise TransportError(_NOT_HTTP)
            digits = declared.lstrip("0") or "0"  # int() refuses more than 4,300 digits with a ValueError
            size = int(digits) if len(digits) < 19 else BEYOND_ANY_CAP
            return Answer(self, status, reason, headers, "length", size, closes)
        return Answer(self, status, reason, headers, "close", None, True)

    @property
    def unread(self) -> bool:
        """Whether bytes were read past the last answer: unasked, they must not be taken for the next one."""
        return bool(self._buffer)

    def read_body(self, framing: str, length: int | None) -> Iterator[bytes]:
        """The body as `framing` ("none", "length", "chunked", "close") delimits it; TransportError if cut."""
        if framing == "length" and length is not None:
            yield from self._exactly(length)
        elif framing == "chunked":
            while size := self._chunk_size():
                yield from self._exactly(size)
                end = self._line()
                if end != b"":
                    raise TransportError(_CUT if end is None else _NOT_HTTP)
            self._fields(MAX_LINES)  # trailer fields, read and dropped
        elif framing == "close":
            while data := self._take(_READ):
                yield data

    # -- reading ---------------------------------------------------------------------------------------

    def _head(self) -> tuple[int, str, Headers]:
        line = self._line()
        if line is None:
            raise TransportError("the server closed the connection without an answer")
        match = _STATUS_LINE.fullmatch(line)
        if match is None:
            raise TransportError(_NOT_HTTP)
        self._minor = int(match[1])
        return int(match[2]), (match[3] or b"").decode("latin-1"), Headers(self._fields(MAX_LINES))

    def _fields(self, most: int) -> list[tuple[str, str]]:
        """Header (or trailer) fields up to the empty line; at most `most` lines, folded ones included."""
        fields: list[tuple[str, str]] = []
        for _ in range(most + 1):
            line = self._line()
            if line is None:
                raise TransportError(_CUT)
            if not line:
                return fields
            if line[:1] in (b" ", b"\t"):  # obsolete line folding: part of the field above
                if not fields:
                    raise TransportError(_NOT_HTTP)
                name, value = fields[-1]
                fields[-1] = (name, f"{value} {line.strip(_BLANK).decode('latin-1')}".strip(" "))
                continue
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon or not HEADER_NAME.fullmatch(name):
                raise TransportError(_NOT_HTTP)
            fields.append((name, value.strip(" \t")))
        raise TransportError(_NOT_HTTP)  # more lines than any answer of ours carries

    def _line(self) -> bytes | None:
        """One line without its line ending (CRLF, or LF alone); None at the end of the stream before any byte."""
        searched = 0
        while (end := self._buffer.find(b"\n", searched)) < 0:
            if len(self._buffer) > MAX_LINE:
                raise TransportError(_NOT_HTTP)
            searched = len(self._buffer)
            if not self._fill():
                if self._buffer:
                    raise TransportError(_CUT)
                return None
        if end > MAX_LINE:
            raise TransportError(_NOT_HTTP)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def _take(self, most: int) -> bytes:
        """Up to `most` bytes: those already read, else one read's worth; b"" at the end of the stream."""
        if not self._buffer and not self._fill():
            return b""
        data = bytes(self._buffer[:most])
        del self._buffer[:most]
        return data

    def _fill(self) -> bool:
        """One read from the socket into the buffer, waiting no longer than the deadline allows; False at EOF."""
        data = self._within_deadline(self._sock.recv, _READ)
        self._buffer += data
        return bool(data)

    def _send(self, data: bytes) -> None:
        self._within_deadline(self._sock.sendall, data)

    def _within_deadline(self, operation: Callable[[Argument], Result], argument: Argument) -> Result:
        """One socket operation, waiting at most min(read timeout, time left to the deadline)."""
        left = self.until - self._clock()
        if left <= 0:
            raise TimeoutError("deadline")
        self._sock.settimeout(min(self._read_timeout, left))
        try:
            return operation(argument)
        except OSError as error:
            if _corrupt_tls(error):
                raise TransportError("the TLS stream was corrupted") from None
            raise

    def _exactly(self, size: int) -> Iterator[bytes]:
        while size:
            data = self._take(min(size, _READ))
            if not data:
                raise TransportError(_CUT)
            size -= len(data)
            yield data

    def _chunk_size(self) -> int:
        line = self._line()
        if line is None:
            raise TransportError(_CUT)
        size = line.split(b";", 1)[0].strip(_BLANK)  # chunk extensions are ignored
        if not _CHUNK_SIZE.fullmatch(size):
            raise TransportError(_NOT_HTTP)
        return int(size, 16)


class Answer:
    """A final answer's status, reason and headers, and its body still on the connection (see `body`)."""

    def __init__(
        self,
        connection: Connection,
        status: int,
        reason: str,
        headers: Headers,
        framing: str,
        length: int | None,
        closes: bool,
    ) -> None:
        self.status, self.reason, self.headers = status, reason, headers
        self.length = length  # the body's declared length, when it is framed by one
        self._connection, self._framing, self._closes = connection, framing, closes
        self._ended = False

    def body(self) -> Iterator[bytes]:
        """The body, a read at a time (never an empty piece); TransportError when it ends before its framing does."""
        yield from self._connection.read_body(self._framing, self.length)
        self._ended = True

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry another request: the body read to its framed end and nothing after."""
        return self._ended and not self._closes and not self._connection.unread


def _corrupt_tls(error: OSError) -> bool:
    """Whether a read or write failed on a record no key made (injected, altered, an alert): a connection
    fault like a reset, not the certificate problem a failed handshake is. A cut (EOF) stays a cut."""
    ssl = sys.modules.get("ssl")  # loaded for the first https connection: without it, no TLS error can occur
    return ssl is not None and isinstance(error, ssl.SSLError) and not is_tls_cut(error)


def _tokens(value: str) -> list[str]:
    # Space and tab only: str.strip() would also take "\x0b" or "\x85" off, and a framing field so spelt is wrong.
    return [token.strip(" \t").lower() for token in value.split(",") if token.strip(" \t")]
