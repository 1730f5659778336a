"""HTTP/1.1 framing (`pipelines.edges.http_wire`): what a request puts on the wire, and how an answer is read
from a real socket (a socketpair): status, fields, the body as its framing delimits it, and whether the
connection may carry the next request. The client around it, against real servers: test_http.py."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.edges.http_rules import Headers, TransportError
from pipelines.edges.http_wire import MAX_LINE, MAX_LINES, Answer, Connection, host_header, open_socket

NOT_HTTP = "the answer was not HTTP/1.x"
CUT = "the answer was cut short"


@pytest.fixture
def pair() -> Iterator[tuple[Connection, socket.socket]]:
    """A connection on one end of a socketpair, and the other end, which plays the server."""
    ours, theirs = socket.socketpair()
    yield Connection(ours, 5.0, time.monotonic, time.monotonic() + 30), theirs
    ours.close()
    theirs.close()


def answer_of(pair: tuple[Connection, socket.socket], raw: bytes, method: str = "GET") -> tuple[Answer, bytes]:
    """The server sends `raw` and hangs up its side; the answer read, and its whole body."""
    connection, server = pair
    server.sendall(raw)
    server.shutdown(socket.SHUT_WR)
    answer = connection.read_answer(method)
    return answer, b"".join(answer.body())


def refusal(pair: tuple[Connection, socket.socket], raw: bytes, method: str = "GET") -> str:
    with pytest.raises(TransportError) as raised:
        answer_of(pair, raw, method)
    return raised.value.reason


# -- what a request puts on the wire ---------------------------------------------------------------------


def sent_by(method: str, target: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        Connection(ours, 5.0, time.monotonic, time.monotonic() + 30).send_request(method, target, host, headers, body)
        ours.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: theirs.recv(65536), b""))


def test_a_request_is_its_line_host_identity_encoding_headers_and_a_length_for_a_body():
    assert sent_by("GET", "/v2/?n=1", "registry.test:5000", {"Accept": "a/b"}, None) == (
        b"GET /v2/?n=1 HTTP/1.1\r\nHost: registry.test:5000\r\nAccept-Encoding: identity\r\nAccept: a/b\r\n\r\n"
    )
    put = sent_by("PUT", "/m", "h", {"Content-Type": "x/y"}, b"{}")
    assert put.endswith(b"Content-Type: x/y\r\nContent-Length: 2\r\n\r\n{}")
    assert b"Content-Length: 0\r\n" in sent_by("POST", "/", "h", {}, None)  # a POST always states its length
    assert b"Content-Length" not in sent_by("HEAD", "/", "h", {}, None)
    big = b"x" * 200_000  # sent after the head rather than copied into it; the same bytes either way
    assert sent_by("PUT", "/b", "h", {}, big).endswith(b"Content-Length: 200000\r\n\r\n" + big)


def test_a_caller_s_own_host_is_not_sent_twice_nor_its_own_encoding_overridden():
    sent = sent_by("GET", "/", "right", {"Host": "wrong", "accept-encoding": "gzip"}, None)
    assert sent.count(b"Host:") == 1 and b"Host: right" in sent
    assert b"identity" not in sent and b"accept-encoding: gzip" in sent


def test_a_connection_sends_without_nagles_algorithm():
    """A body over one read's size goes out after its head; with Nagle's algorithm its last segment would wait for
    the server's delayed ACK of the head. The control: a plain socket has the option off."""
    listener = socket.create_server(("127.0.0.1", 0))
    with (
        listener,
        open_socket(listener.getsockname(), 5) as ours,
        socket.create_connection(listener.getsockname()) as plain,
    ):
        assert ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert not plain.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.mark.parametrize(
    ("scheme", "host", "port", "field"),
    [
        ("https", "ghcr.io", 443, "ghcr.io"),
        ("http", "127.0.0.1", 80, "127.0.0.1"),
        ("http", "127.0.0.1", 5000, "127.0.0.1:5000"),
        ("https", "::1", 443, "[::1]"),
        ("http", "::1", 8080, "[::1]:8080"),
        ("https", "ghcr.io", 80, "ghcr.io:80"),
    ],
)
def test_the_host_field_names_the_port_only_when_it_is_not_the_scheme_s(scheme, host, port, field):
    assert host_header(scheme, host, port) == field


# -- how an answer is framed -----------------------------------------------------------------------------


def test_a_body_of_declared_length_leaves_the_connection_for_the_next_request(pair):
    answer, body = answer_of(
        pair, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDocker-Content-Digest: sha256:ab\r\n\r\nhello"
    )
    assert (answer.status, answer.reason, body, answer.length) == (200, "OK", b"hello", 5)
    assert answer.headers["docker-content-digest"] == "sha256:ab"
    assert answer.reusable


def test_chunks_are_joined_their_extensions_and_trailers_dropped(pair):
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"5;name=v\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-T: 1\r\n\r\n"
    answer, body = answer_of(pair, raw)
    assert body == b"hello, world!!!" and answer.length is None and answer.reusable


def test_a_body_until_the_server_closes_is_read_whole_and_the_connection_not_reused(pair):
    answer, body = answer_of(pair, b"HTTP/1.1 200 OK\r\n\r\nall of it")
    assert body == b"all of it" and not answer.reusable


@pytest.mark.parametrize(
    ("raw", "method"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", "HEAD"),  # a HEAD's length is the GET's
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", "GET"),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", "GET"),
    ],
)
def test_head_204_and_304_have_no_body_whatever_their_fields_say(pair, raw, method):
    answer, body = answer_of(pair, raw, method)
    assert body == b"" and answer.length is None and answer.reusable


def test_interim_answers_are_skipped_and_folded_lines_join_their_field(pair):
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    raw += b"HTTP/1.1 201 Created\r\nX-Long: one\r\n  two\r\n\tthree\r\nContent-Length: 0\r\n\r\n"
    answer, _ = answer_of(pair, raw)
    assert answer.status == 201 and answer.headers["x-long"] == "one two three" and "link" not in answer.headers


@pytest.mark.parametrize(
    ("fields", "reusable"),
    [
        (b"Content-Length: 2\r\nConnection: close\r\n", False),
        (b"Content-Length: 2\r\nConnection: Keep-Alive, Close\r\n", False),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n", False),  # faulty framing ends the connection
        (b"Content-Length: 2, 2\r\n", True),  # a length repeated with one value is that length
    ],
)
def test_what_ends_a_connection(pair, fields, reusable):
    chunked = b"chunked" in fields
    answer, body = answer_of(
        pair, b"HTTP/1.1 200 OK\r\n" + fields + b"\r\n" + (b"2\r\nok\r\n0\r\n\r\n" if chunked else b"ok")
    )
    assert body == b"ok" and answer.reusable is reusable


def test_http_1_0_closes_unless_it_says_keep_alive(pair):
    connection, server = pair
    server.sendall(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na")
    kept = connection.read_answer("GET")
    assert b"".join(kept.body()) == b"a" and kept.reusable
    server.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb")
    closed = connection.read_answer("GET")
    assert b"".join(closed.body()) == b"b" and not closed.reusable


def test_bytes_after_an_answer_are_never_taken_for_the_next_one(pair):
    """A server that sends a second answer unasked (or one body too long for its length) would have the next
    request read it: the connection is given up instead."""
    connection, server = pair
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
    server.sendall(smuggled)
    answer = connection.read_answer("GET")
    assert b"".join(answer.body()) == b"ok"
    assert not answer.reusable and connection.dropped()


def test_an_idle_connection_the_server_closed_or_wrote_to_is_dropped(pair):
    connection, server = pair
    assert not connection.dropped()
    server.sendall(b"x")
    assert connection.dropped()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "the server closed the connection without an answer"),
        (b"HTTP/1.1 200 O", CUT),
        (b"HTTPS/1.1 200 OK\r\n\r\n", NOT_HTTP),
        (b"HTTP/2 200 OK\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 20 OK\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 600 Odd\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 099 Low\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", NOT_HTTP),
        (b"<html>hello</html>\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", CUT),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", CUT),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello", NOT_HTTP),
        ("HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\nhello".encode("latin-1", "replace"), NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nhello", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", CUT),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", CUT),
    ],
)
def test_a_malformed_or_cut_answer_is_refused_in_our_words(pair, raw, reason):
    assert refusal(pair, raw) == reason


def test_header_and_trailer_lines_are_bounded(pair):
    many = b"".join(b"X-%d: v\r\n" % n for n in range(MAX_LINES))
    assert answer_of(pair, b"HTTP/1.1 200 OK\r\n" + many + b"\r\n")[0].headers["x-99"] == "v"  # the limit itself


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % n for n in range(MAX_LINES)) + b" folded\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"T: v\r\n" * (MAX_LINES + 1) + b"\r\n",
    ],
)
def test_one_line_past_the_bound_is_refused(pair, raw):
    assert refusal(pair, raw) == NOT_HTTP


def test_an_endless_line_is_refused_after_a_bounded_read():
    """A server that never ends its status line: refused once it passes MAX_LINE, holding no more than that and
    one read in memory, while the server still has much more to send."""
    ours, theirs = socket.socketpair()
    sender = threading.Thread(target=lambda: _send_until_closed(theirs), daemon=True)
    sender.start()
    connection = Connection(ours, 5.0, time.monotonic, time.monotonic() + 30)
    with pytest.raises(TransportError, match="not HTTP"):
        connection.read_answer("GET")
    assert MAX_LINE < len(connection._buffer) <= MAX_LINE + (64 << 10)
    ours.close()
    sender.join(5)
    theirs.close()


def _send_until_closed(server: socket.socket) -> None:
    try:
        for _ in range(1000):
            server.sendall(b"H" * 65536)
    except OSError:
        pass


def test_a_read_past_the_deadline_is_a_timeout_not_a_wait():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        past = Connection(ours, 60.0, lambda: 100.0, until=99.0)  # the clock is injected: no real wait at all
        with pytest.raises(TimeoutError):
            past.read_answer("GET")


# -- properties: any answer, cut into any pieces, reads as it was written -----------------------------------


class Pieces:
    """The server's bytes in the pieces given, a piece per read: how a slow network delivers an answer."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > size:
            self.pieces.insert(0, piece[size:])
        return piece[:size]

    def settimeout(self, timeout: float) -> None:
        assert 0 < timeout <= 5.0

    def close(self) -> None:
        pass


_TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30)
_FRAMING = {"content-length", "transfer-encoding", "connection"}


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, str, int, str, list[tuple[str, str]], bytes, bool]:
    """(raw answer, method, status, reason, fields, the body a client must read, whether it is reusable)."""
    method = draw(st.sampled_from(["GET", "HEAD", "PUT"]))
    status = draw(st.sampled_from([200, 201, 202, 204, 304, 307, 404, 429, 500, 503]))
    reason = draw(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=20)
    )
    fields = draw(
        st.lists(st.tuples(_TOKEN, _VALUE), max_size=6).filter(lambda fs: not {n.lower() for n, _ in fs} & _FRAMING)
    )
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    interim = draw(st.booleans())
    head = b"HTTP/1.1 100 Continue\r\n\r\n" if interim else b""
    head += f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")
    head += b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in fields)
    no_body = method == "HEAD" or status in (204, 304)
    if framing == "length":
        raw = head + b"Content-Length: %d\r\n\r\n" % len(body) + (b"" if no_body else body)
    elif framing == "chunked":
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if body[a:b]]
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"
        raw = head + b"Transfer-Encoding: chunked\r\n\r\n" + (b"" if no_body else chunks)
    else:
        raw = head + b"\r\n" + (b"" if no_body else body)
    return raw, method, status, reason, fields, b"" if no_body else body, no_body or framing != "close"


def cut(raw: bytes, draw: st.DrawFn) -> list[bytes]:
    points = sorted(set(draw(st.lists(st.integers(1, max(len(raw) - 1, 1)), max_size=12))))
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True) if raw[a:b]]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_answer_in_any_pieces_reads_as_written_and_the_next_follows_on_the_same_connection(data):
    server = Pieces()
    connection = Connection(server, 5.0, time.monotonic, time.monotonic() + 30)
    for _ in range(2):  # two answers in turn on one connection, as two requests get them
        raw, method, status, reason, fields, body, reusable = data.draw(answers())
        server.pieces = cut(raw, data.draw)
        answer = connection.read_answer(method)
        assert (answer.status, answer.reason) == (status, reason)
        assert all(answer.headers[name] == Headers(fields)[name] for name, _ in fields)
        assert b"".join(answer.body()) == body
        assert answer.reusable is reusable
        if not reusable:
            return


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_cut_anywhere_in_a_framed_answer_is_refused_never_read_as_whole(data):
    raw, method, *_, body, reusable = data.draw(answers())
    end = data.draw(st.integers(0, len(raw) - 1))
    server = Pieces()
    server.pieces = cut(raw[:end], data.draw)
    connection = Connection(server, 5.0, time.monotonic, time.monotonic() + 30)
    try:
        answer = connection.read_answer(method)
        read = b"".join(answer.body())
    except TransportError as fault:
        assert fault.reason in (CUT, NOT_HTTP, "the server closed the connection without an answer")
    else:
        # Only a body that runs until the server closes can end anywhere; a framed one is never taken for whole.
        assert not reusable and not answer.reusable and body.startswith(read)
