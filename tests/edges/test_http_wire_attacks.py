"""A hostile server (or proxy) against `http_wire` and `HttpClient`, over raw sockets on loopback.

Each server here is a plain socket that reads a request head and writes whatever bytes a test scripts:
malformed status lines, interim-answer floods, framing that two readers could split differently,
answers with bytes after their end, echoes of credentials. The client must answer every one of them
with a Response or one of the project's errors (in our own words), never reuse a connection whose
last answer was ambiguous, and never print what the server sent as it came.
"""

from __future__ import annotations

import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import pytest

from pipelines.core.errors import Corrupt, PipelineError, Unavailable
from pipelines.core.secrets import remember
from pipelines.edges.http import HttpClient, Response, RetryPolicy, Timeouts
from tests.support.scripted_server import Answer, sends

ONCE = RetryPolicy(max_attempts=1, max_time=5)
QUICK = Timeouts(connect=1, read=1, request=3)


def outcome(url: str, method: str = "GET", max_body: int = 1 << 20, **client: object) -> Response | PipelineError:
    """The Response, or the project's error; anything else (a ValueError, a traceback) fails the test."""
    options: dict[str, object] = {"policy": ONCE, "timeouts": QUICK, "environ": {}, **client}
    with HttpClient(**options) as http:  # type: ignore[arg-type]
        try:
            return http.request(method, url, max_body=max_body)
        except PipelineError as error:
            return error


def refused(result: Response | PipelineError, words: str) -> None:
    assert isinstance(result, Unavailable), result
    assert words in result.message, result.message


def ok(head: str, body: bytes = b"") -> bytes:
    return f"HTTP/1.1 {head}".encode("latin-1") + body


# -- findings ------------------------------------------------------------------------------------------


def test_a_content_length_of_thousands_of_digits_is_our_error_not_a_value_error(raw):
    """int() refuses strings over sys.get_int_max_str_digits() (4300) digits, leading zeros counted."""
    server = raw(sends(ok(f"200 OK\r\nContent-Length: {'9' * 5000}\r\n\r\nok")))
    result = outcome(server.url)  # a ValueError escaping here fails the test
    assert isinstance(result, Corrupt) and "more than" in result.message


def test_leading_zeros_however_many_do_not_change_a_content_length(raw):
    server = raw(sends(ok(f"200 OK\r\nContent-Length: {'0' * 5000}2\r\n\r\nok")))
    result = outcome(server.url)
    assert isinstance(result, Response) and result.body == b"ok"


def test_a_reason_phrase_enters_a_message_short_and_printable(raw):
    reason = "\x1b[2J\x1b[31mpwned\x07\r" + "A" * 5000
    server = raw(sends(ok(f"503 {reason}\r\nContent-Length: 0\r\n\r\n")))
    result = outcome(server.url)
    assert isinstance(result, Unavailable)
    assert "\x1b" not in result.message and "\r" not in result.message and "\x07" not in result.message
    assert len(result.message) < 1000


@pytest.mark.parametrize("charset", ["idna", "undefined"])
def test_a_charset_named_by_the_server_never_makes_text_raise(raw, charset):
    server = raw(
        sends(ok(f"200 OK\r\nContent-Type: text/html; charset={charset}\r\nContent-Length: 2\r\n\r\n", b"\xff!"))
    )
    result = outcome(server.url)
    assert isinstance(result, Response)
    assert isinstance(result.text, str)  # wheels/index.py reads a simple page with .text


def test_a_redirect_target_enters_a_message_short_and_without_a_secret(raw):
    """The server echoes the caller's token into its Location path; the error naming the last URL must not
    carry it (remembered or not: the HTTP layer sent it), nor 60 KB of path."""
    token = "tok" + secrets.token_hex(16)
    remember(token)

    def answer(conn: socket.socket, n: int, head: bytes) -> bool:
        path = f"/{token}/{n}/" + "p" * 30000
        conn.sendall(ok(f"302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\n\r\n"))
        return True

    server = raw(answer)
    result = outcome(server.url, headers={"Authorization": f"Bearer {token}"})
    assert isinstance(result, Corrupt), result
    assert token not in result.message
    assert len(result.message) < 1000


def test_an_authorization_echoed_in_a_5xx_body_is_not_in_the_message(raw):
    token = "tok" + secrets.token_hex(16)

    def answer(conn: socket.socket, n: int, head: bytes) -> bool:
        echo = next(line for line in head.split(b"\r\n") if line.lower().startswith(b"authorization:"))
        conn.sendall(ok(f"503 Busy\r\nContent-Length: {len(echo)}\r\n\r\n", echo))
        return True

    server = raw(answer)
    client = HttpClient(policy=ONCE, timeouts=QUICK, environ={}, headers={"Authorization": f"Bearer {token}"})
    with client as http, pytest.raises(Unavailable) as raised:
        http.request("GET", server.url)
    assert "Bearer" in raised.value.message  # the echo arrived
    assert token not in raised.value.message


def test_a_flood_of_interim_answers_is_refused(raw):
    flood = b"HTTP/1.1 100 Continue\r\n\r\n" * 5000 + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    server = raw(sends(flood))
    refused(outcome(server.url), "not HTTP/1.x")


@pytest.mark.parametrize("location", ["/a b", "/a\x00b", "/\x7fx"])
def test_a_redirect_to_a_malformed_location_is_the_servers_fault(raw, location):
    server = raw(sends(ok(f"302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")))
    result = outcome(server.url)
    assert isinstance(result, Corrupt), result


@pytest.mark.parametrize(
    "field",
    ["Content-Length: 5\x0b", "Content-Length: \x1c5", "Content-Length: 5\xa0", "Transfer-Encoding: chunked\x85"],
)
def test_framing_fields_with_control_characters_are_refused(raw, field):
    body = b"5\r\nhello\r\n0\r\n\r\n" if "chunked" in field else b"hello"
    server = raw(sends(ok(f"200 OK\r\n{field}\r\n\r\n", body), keep=False))
    result = outcome(server.url)
    assert isinstance(result, Unavailable), result


def test_a_retry_after_date_far_in_the_future_is_not_a_crash(raw):
    busy = ok("503 Busy\r\nRetry-After: Mon, 01 Jan 99999999999 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n")
    server = raw(sends(busy))
    result = outcome(server.url)  # an OverflowError escaping here fails the test
    assert isinstance(result, Unavailable)


# -- attacks that found nothing (kept as regressions) --------------------------------------------------


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/1.1 200",  # no reason: fine
        b"HTTP/2 200 OK",
        b"HTTP/1.1 99 OK",
        b"HTTP/1.1 600 OK",
        b"HTTP/1.1  200 OK",
        b"http/1.1 200 OK",
        b"HTTP/1.10 200 OK",
        b"ICY 200 OK",
        b"\x00\x01\x02",
        b"",
        b"HTTP/1.1 101 Switching Protocols",
    ],
)
def test_malformed_status_lines_are_refused_in_our_words(raw, status_line):
    server = raw(sends(status_line + b"\r\nContent-Length: 2\r\n\r\nok", keep=False))
    result = outcome(server.url)
    if status_line == b"HTTP/1.1 200":
        assert isinstance(result, Response) and result.body == b"ok"
    else:
        refused(result, "connection failed")


@pytest.mark.parametrize(
    ("length", "body"),
    [("1, 1", b"x"), ("05", b"hello"), ("5 ", b"hello"), (" 5", b"hello"), ("0", b"")],
)
def test_content_length_variants_that_name_one_length_are_read(raw, length, body):
    server = raw(sends(ok(f"200 OK\r\nContent-Length: {length}\r\n\r\n", body)))
    result = outcome(server.url)
    assert isinstance(result, Response) and result.body == body


@pytest.mark.parametrize("length", ["1,2", "-5", "+5", "0x5", "5;", "", "1e3", "\xb2"])
def test_content_length_variants_that_are_not_one_length_are_refused(raw, length):
    server = raw(sends(ok(f"200 OK\r\nContent-Length: {length}\r\n\r\n", b"hello")))
    refused(outcome(server.url), "not HTTP/1.x")


def test_a_huge_content_length_is_refused_before_reading(raw):
    server = raw(sends(ok("200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", b"x")))
    result = outcome(server.url)
    assert isinstance(result, Corrupt) and "more than" in result.message


@pytest.mark.parametrize(
    ("chunks", "body"),
    [
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"a;name=value\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
        (b"5\nhello\n0\n\n", b"hello"),
        (b"000000000000005\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n", b"hello"),
    ],
)
def test_chunked_variants_that_frame_one_body_are_read(raw, chunks, body):
    server = raw(sends(ok("200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunks)))
    result = outcome(server.url)
    assert isinstance(result, Response) and result.body == body


@pytest.mark.parametrize(
    "chunks",
    [
        b"0000000000000005\r\nhello\r\n0\r\n\r\n",  # 16 hex digits
        b"FFFFFFFFFFFFFFF\r\nhello",  # 15 digits: under 2**60, past the cap
        b"5\r\nhelloEXTRA\r\n0\r\n\r\n",  # more data than declared
        b"5\r\nhello0\r\n\r\n",  # no line end after the data
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhel",  # cut
        b"0\r\n" + b"X-T: 1\r\n" * 200 + b"\r\n",  # trailer flood
        b"0\r\nnot a field\r\n\r\n",
    ],
)
def test_chunked_variants_that_do_not_frame_a_body_are_refused(raw, chunks):
    server = raw(sends(ok("200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunks), keep=False))
    result = outcome(server.url, max_body=1 << 20)
    assert isinstance(result, (Unavailable, Corrupt)), result


@pytest.mark.parametrize(
    "lines",
    [
        [b"X-A: " + b"a" * (64 << 10)],  # a line over 64 KiB
        [b"X-%d: v" % i for i in range(101)],  # 101 header lines
        [b"X-A: v"] + [b" folded"] * 100,  # folded lines count
        [b" folded first"],
        [b"No colon here"],
        [b"Content-Length : 2"],  # a space before the colon
        [b"X\x00: v"],
    ],
)
def test_header_abuse_is_refused(raw, lines):
    server = raw(sends(b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(lines) + b"\r\nContent-Length: 2\r\n\r\nok"))
    refused(outcome(server.url), "not HTTP/1.x")


def test_header_limits_admit_what_they_say(raw):
    lines = [b"X-%d: v" % i for i in range(98)] + [b"X-Big: " + b"b" * ((64 << 10) - 8)]
    server = raw(sends(b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(lines) + b"\r\nContent-Length: 2\r\n\r\nok"))
    result = outcome(server.url)
    assert isinstance(result, Response) and result.body == b"ok"


def test_nul_and_cr_in_header_values_do_not_frame_the_body(raw):
    server = raw(sends(ok("200 OK\r\nContent-Length: 2\rX: 1\r\n\r\nok")))
    refused(outcome(server.url), "not HTTP/1.x")
    server = raw(sends(ok("200 OK\r\nX-Odd: a\x00b\rc\r\nContent-Length: 2\r\n\r\nok")))
    result = outcome(server.url)
    assert isinstance(result, Response) and result.body == b"ok"


def twice(first: bytes, second: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond") -> Answer:
    """The first request gets `first` (maybe with a smuggled answer after it), every later one `second`."""

    def answer(conn: socket.socket, n: int, head: bytes) -> bool:
        conn.sendall(first if n == 0 else second)
        return True

    return answer


SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle"


@pytest.mark.parametrize(
    ("method", "first"),
    [
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + SMUGGLED),
        ("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + SMUGGLED),
        ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        ("GET", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ("GET", b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        ("GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
        ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsmuggle"),
        ("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nsmuggle"),
        ("GET", b"HTTP/1.1 304 Not Modified\r\n\r\n" + SMUGGLED),
        (
            "GET",
            b"HTTP/1.1 100 Continue\r\nContent-Length: 7\r\n\r\nsmuggleHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ),
    ],
)
def test_a_connection_whose_answer_was_not_cleanly_framed_is_never_reused(raw, method, first):
    server = raw(twice(first))
    with HttpClient(policy=ONCE, timeouts=QUICK, environ={}) as http:
        with pytest.raises(PipelineError) if b"100 Continue" in first else nullcontext():
            http.request(method, server.url + "/1")
        second = http.request("GET", server.url + "/2")
    assert second.body == b"second"
    assert http.connections_opened == 2 == server.connections


@pytest.mark.parametrize("coding", ["gzip", "gzip, chunked", "chunked, chunked", "identity"])
def test_a_transfer_coding_other_than_chunked_is_refused_not_guessed(raw, coding):
    """We ask for none (Accept-Encoding: identity, no TE): a body in another coding is bytes nothing here reads."""
    server = raw(sends(ok(f"200 OK\r\nTransfer-Encoding: {coding}\r\nContent-Length: 2\r\n\r\nokay"), keep=False))
    refused(outcome(server.url), "not HTTP/1.x")


def test_a_cleanly_framed_answer_keeps_its_connection(raw):
    server = raw(twice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n"))
    with HttpClient(policy=ONCE, timeouts=QUICK, environ={}) as http:
        assert http.request("GET", server.url).body == b"ok"
        assert http.request("GET", server.url).body == b"second"
    assert http.connections_opened == 1


def test_a_server_closing_at_every_byte_of_an_answer_gets_our_words(raw):
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    for cut in range(len(answer)):
        server = raw(sends(answer[:cut], keep=False))
        result = outcome(server.url)
        assert isinstance(result, Unavailable), (cut, result)
        assert "connection failed" in result.message, (cut, result.message)
        server.stop()


def test_an_endless_stream_of_interim_answers_ends_at_the_deadline(raw):
    """Served as fast as the socket takes them; the client's clock moves a second per look."""

    def answer(conn: socket.socket, n: int, head: bytes) -> bool:
        block = b"HTTP/1.1 100 Continue\r\nX: y\r\n\r\n" * 1000
        while True:
            conn.sendall(block)

    server = raw(answer)
    ticks = iter(range(10**6))
    result = outcome(server.url, clock=lambda: float(next(ticks)), timeouts=Timeouts(connect=1, read=1, request=20))
    refused(result, "time limit")


def test_concurrent_requests_through_a_desyncing_server_each_get_their_own_answer(raw):
    def answer(conn: socket.socket, n: int, head: bytes) -> bool:
        path = head.split(b" ")[1]
        extra = SMUGGLED if n % 3 == 0 else b""
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s%s" % (len(path), path, extra))
        return True

    server = raw(answer)
    with HttpClient(policy=ONCE, timeouts=QUICK, environ={}) as http:

        def get(i: int) -> bytes:
            return http.request("GET", f"{server.url}/p{i}").body

        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(get, range(64)))
    assert bodies == [f"/p{i}".encode() for i in range(64)]


# -- proxies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 Connection established\r\n\r\nEXTRA",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 407 Proxy Authentication Required\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 10000,
        b"SSH-2.0-OpenSSH_9.0\r\n",
    ],
)
def test_a_hostile_proxy_gets_our_words(raw, reply):
    proxy = raw(sends(reply, keep=False))
    result = outcome("https://registry.test/v2/", environ={"HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}"})
    assert isinstance(result, Unavailable), result
    assert "EXTRA" not in result.message and "hello" not in result.message


def test_a_proxy_echoing_proxy_authorization_in_its_reason_never_shows_it(raw):
    password = "Pr0xy" + secrets.token_hex(8)

    def reply(head: bytes) -> bytes:
        sent = next(line for line in head.split(b"\r\n") if line.startswith(b"Proxy-Authorization:"))
        value = sent.split(b" ")[-1]
        # Whole, cut in half and percent-encoded, next to the raw password.
        return b"HTTP/1.1 407 %s %s %s %s\r\nContent-Length: 0\r\n\r\n" % (
            sent,
            value[: len(value) // 2],
            password.encode(),
            password.encode()[:12].replace(b"0", b"%30"),
        )

    proxy = raw(lambda conn, n, head: conn.sendall(reply(head)) or False)
    environ = {"HTTPS_PROXY": f"http://puser:{password}@127.0.0.1:{proxy.port}"}
    result = outcome("https://registry.test/v2/", environ=environ)
    assert isinstance(result, Unavailable) and "proxy refused a tunnel" in result.message, result
    assert password not in result.message and password[:12] not in result.message
    assert "Basic" not in result.message or "cHVzZXI6" not in result.message
