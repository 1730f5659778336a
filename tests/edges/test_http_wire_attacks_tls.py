"""A hostile TLS server (or proxy) against `http_wire` and `HttpClient`, on loopback, second round.

The first round (`test_http_wire_attacks.py`) spoke plain http. Here each server speaks TLS with the
private CA of the `certificates` fixture and scripts what follows the handshake: bytes after a body in
the same record or the next, close_notify or a bare TCP close mid-body, raw garbage inside the TLS
stream, a certificate for another name behind a CONNECT tunnel, proxies answering CONNECT oddly. The
client must answer every one of them with a Response or one of the project's errors (in our own words),
never take a truncated body for whole, and never reuse a connection whose last answer was ambiguous.
"""

from __future__ import annotations

import gc
import os
import random
import secrets
import select
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines.core.errors import InputError, PipelineError, Unavailable
from pipelines.core.secrets import command_secrets
from pipelines.edges.http import HttpClient, Response, RetryPolicy, Timeouts
from pipelines.edges.http_rules import Headers
from pipelines.edges.http_wire import Connection
from pipelines.edges.retry import parse_retry_after
from tests.support.scripted_server import ScriptedServer, relay, sends

ONCE = RetryPolicy(max_attempts=1, max_time=5)
QUICK = Timeouts(connect=1, read=1, request=3)
ROOT = Path(__file__).resolve().parents[2]


def trusting(certificates, **environ: str) -> dict[str, str]:
    return {"SSL_CERT_FILE": str(certificates.ca), **environ}


def outcome(url: str, certificates, method: str = "GET", **client: object) -> Response | Exception:
    """The Response, or whatever was raised: a test then asserts it is one of the project's errors."""
    options: dict[str, object] = {"policy": ONCE, "timeouts": QUICK, "environ": trusting(certificates), **client}
    with HttpClient(**options) as http:  # type: ignore[arg-type]
        try:
            return http.request(method, url, body=b"x" if method in ("PUT", "POST", "PATCH") else None)
        except Exception as error:
            return error


def refused(result: Response | Exception, words: str) -> None:
    assert isinstance(result, Unavailable), repr(result)
    assert words in result.message, result.message


def ragged_close(conn: ssl.SSLSocket) -> None:
    """TCP FIN with no close_notify: what an attacker on the path can forge."""
    conn.shutdown(socket.SHUT_RDWR)


def notify_close(conn: ssl.SSLSocket) -> None:
    """close_notify, then the TCP close: an end of stream TLS vouches for."""
    conn.unwrap().close()


FRAMED = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood"
EVIL = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"


def assert_ours_after_collecting(attempt: Callable[[], Response | Exception]) -> None:
    """The SSLSocket that wrap_socket made before the idna codec raised is never closed: its frames hang on the
    exception's traceback; collected here, its ResourceWarning is this test's (ignored), not a later one's."""
    result = attempt()
    ours, described = isinstance(result, (Response, PipelineError)), repr(result)
    del result
    gc.collect()
    assert ours, described


# -- findings ------------------------------------------------------------------------------------------


def test_a_close_delimited_https_body_cut_by_a_bare_tcp_close_is_not_taken_for_whole(tls, certificates):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b'{"digest": "sha256:aaaa')
        ragged_close(conn)
        return False

    result = outcome(tls(answer).url + "/v2/", certificates)
    refused(result, "cut")


@pytest.mark.parametrize("host", ["a" * 64 + ".test", "registry..test"])
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the SSLSocket it leaks
def test_a_host_name_the_idna_codec_refuses_is_our_error_through_a_proxy(tls, certificates, connect_proxy, host):
    """Behind the tunnel a TLS server whose certificate names neither host: the handshake gets that far, fast."""
    connect_proxy.hosts[host] = "127.0.0.1"
    server = tls(sends(FRAMED))
    environ = trusting(certificates, HTTPS_PROXY=f"http://127.0.0.1:{connect_proxy.port}")
    url = f"https://{host}:{server.port}/v2/"
    assert_ours_after_collecting(lambda: outcome(url, certificates, environ=environ))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the SSLSocket it leaks
def test_a_redirect_to_a_host_name_the_idna_codec_refuses_is_our_error(tls, certificates, connect_proxy):
    long = "a" * 64 + ".test"
    server = tls(None)  # type: ignore[arg-type]
    server.answer = sends(
        f"HTTP/1.1 302 Found\r\nLocation: https://{long}:{server.port}/\r\nContent-Length: 0\r\n\r\n".encode()
    )
    connect_proxy.hosts[long] = "127.0.0.1"
    environ = trusting(certificates, HTTPS_PROXY=f"http://127.0.0.1:{connect_proxy.port}")
    url = f"https://registry.test:{server.port}/v2/"
    assert_ours_after_collecting(lambda: outcome(url, certificates, environ=environ))


def test_a_huge_credential_header_is_refused_before_it_is_remembered(tls, certificates):
    server = tls(sends(FRAMED))
    token = secrets.token_urlsafe(48_000)[:64_000]
    with (
        command_secrets() as remembered,
        HttpClient(policy=ONCE, timeouts=QUICK, environ=trusting(certificates)) as http,
    ):
        with pytest.raises(InputError):
            http.request("GET", server.url + "/", headers={"Authorization": f"Bearer {token}"})
        assert not remembered._windows
    assert server.heads == []


def test_an_https_request_in_a_fresh_process_does_not_load_the_idna_codec(tls, certificates):
    server = tls(sends(FRAMED))
    result = fresh_process(
        certificates.ca,
        f"""
        assert http.request("GET", "{server.url}/").body == b"good"
        print("idna" if "encodings.idna" in sys.modules else "no idna")
    """,
    )
    assert result == "no idna"


def test_garbage_in_the_tls_stream_mid_answer_is_a_connection_fault_not_a_certificate_one(tls, certificates):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        socket.socket.sendall(conn, b"\x17\x03\x03\x00\x10" + b"\x00" * 16)  # a record no key made
        return False

    result = outcome(tls(answer).url + "/", certificates)
    refused(result, "connection failed")
    assert "SSL_CERT_FILE" not in (result.hint or "") and "_" not in result.message.split(":")[-1]


# -- TLS framing that holds ---------------------------------------------------------------------------


def test_bytes_after_a_body_in_the_same_tls_record_end_the_connection(tls, certificates):
    server = tls(sends(FRAMED + EVIL, FRAMED))
    with HttpClient(policy=ONCE, timeouts=QUICK, environ=trusting(certificates)) as http:
        assert http.request("GET", server.url + "/a").body == b"good"
        assert http.request("GET", server.url + "/b").body == b"good"
    assert server.connections == 2


def test_bytes_after_a_body_in_the_next_tls_record_end_the_connection(tls, certificates):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        conn.sendall(FRAMED)
        if n == 0:
            conn.sendall(EVIL)  # a record of its own, after the answer's
        return True

    server = tls(answer)
    with HttpClient(policy=ONCE, timeouts=QUICK, environ=trusting(certificates)) as http:
        assert http.request("GET", server.url + "/a").body == b"good"
        assert http.request("GET", server.url + "/b").body == b"good"
    assert server.connections == 2


def test_bytes_held_decrypted_in_openssls_buffer_make_an_idle_connection_dropped(certificates):
    """An SSLSocket read for one byte of a ten-byte record leaves nine in OpenSSL (`pending()`), none in the kernel."""
    listener = socket.create_server(("127.0.0.1", 0))
    server_context = certificates.server_context()
    done = threading.Event()

    def serve() -> None:
        raw, _ = listener.accept()
        with server_context.wrap_socket(raw, server_side=True) as conn:
            conn.sendall(b"0123456789")
            done.wait(5)

    threading.Thread(target=serve, daemon=True).start()
    client = ssl.create_default_context(cafile=certificates.ca)
    try:
        sock = client.wrap_socket(socket.create_connection(listener.getsockname(), 2), server_hostname="localhost")
        sock.settimeout(2)
        assert sock.recv(1) == b"0"
        assert sock.pending() == 9 and not select.select([sock], [], [], 0)[0]
        assert Connection(sock, 1, lambda: 0.0, 10.0).dropped()
        sock.close()
    finally:
        done.set()
        listener.close()


def test_close_notify_mid_body_is_a_cut_answer(tls, certificates):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        notify_close(conn)
        return False

    refused(outcome(tls(answer).url + "/", certificates), "cut")


def test_a_bare_tcp_close_mid_body_of_a_framed_answer_is_a_cut_answer(tls, certificates):
    for reply in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ):

        def answer(conn: ssl.SSLSocket, n: int, head: bytes, reply: bytes = reply) -> bool:
            conn.sendall(reply)
            ragged_close(conn)
            return False

        refused(outcome(tls(answer).url + "/", certificates), "connection failed")


def test_a_close_delimited_https_body_ended_by_close_notify_is_whole(tls, certificates):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        notify_close(conn)
        return False

    result = outcome(tls(answer).url + "/", certificates)
    assert isinstance(result, Response) and result.body == b"all of it", repr(result)


def test_a_server_closing_idle_connections_with_close_notify_costs_a_new_connection_only(tls, certificates):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        conn.sendall(FRAMED)
        notify_close(conn)
        return False

    server = tls(answer)
    with HttpClient(policy=ONCE, timeouts=QUICK, environ=trusting(certificates)) as http:
        assert [http.request("GET", f"{server.url}/{i}").body for i in range(3)] == [b"good"] * 3
    assert server.connections == 3


@pytest.mark.parametrize(
    "script",
    [
        lambda conn: socket.socket.sendall(conn, b"HTTP/1.1 200 OK\r\n\r\nplain text inside TLS"),
        lambda conn: socket.socket.sendall(conn, b"\x15\x03\x03\x00\x02\x02\x28"),  # a fatal alert, unencrypted
        lambda conn: socket.socket.sendall(conn, b"\x16\x03\x03\x00\x04\x00\x00\x00\x00"),  # a hello request
        lambda conn: (conn.sendall(b"HTTP/1.1 200 OK\r\n"), socket.socket.sendall(conn, os.urandom(64))),
        notify_close,
        ragged_close,
        lambda conn: conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"),
    ],
)
def test_whatever_follows_the_handshake_no_ssl_exception_escapes(tls, certificates, script):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        script(conn)
        return False  # with SO_LINGER 0, the close is a reset

    result = outcome(tls(answer).url + "/", certificates)
    assert isinstance(result, Unavailable), repr(result)
    assert "ssl" not in result.message.lower().replace("ssl_cert_file", "")


def test_a_handshake_that_never_comes_ends_at_the_connect_timeout(certificates):
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel does), never speaks TLS
    try:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
        result = outcome(url, certificates, timeouts=Timeouts(connect=0.3, read=0.3, request=3))
    finally:
        listener.close()
    refused(result, "timed out")


def test_a_server_trickling_after_the_handshake_cannot_stretch_the_deadline(tls, certificates):
    stop = threading.Event()

    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while not stop.is_set():
            conn.sendall(b"x")  # a record a byte
            stop.wait(0.002)
        return False

    server = tls(answer)
    ticks = iter(range(10**6))
    try:
        result = outcome(
            server.url + "/", certificates, clock=lambda: float(next(ticks)), timeouts=Timeouts(request=30)
        )
    finally:
        stop.set()
    refused(result, "time limit")


def test_a_certificate_for_another_name_is_refused(certificates):
    """127.0.0.2 is loopback too (no proxy, plain rules), and not among the certificate's names."""
    try:
        server = ScriptedServer(sends(FRAMED), certificates.server_context(), bind="127.0.0.2")
    except OSError:
        pytest.skip("127.0.0.2 cannot be bound here")
    try:
        result = outcome(server.url + "/", certificates)
    finally:
        server.stop()
    refused(result, "certificate verify failed")
    assert server.heads == []


# -- CONNECT proxies and TLS ----------------------------------------------------------------------------


def test_a_tunnel_to_an_origin_with_a_certificate_for_another_name_is_refused(tls, certificates, connect_proxy):
    server = tls(sends(FRAMED))
    connect_proxy.hosts["elsewhere.test"] = "127.0.0.1"
    password = "pw" + secrets.token_hex(8)
    environ = trusting(certificates, HTTPS_PROXY=f"http://u:{password}@127.0.0.1:{connect_proxy.port}")
    result = outcome(f"https://elsewhere.test:{server.port}/v2/", certificates, environ=environ)
    refused(result, "certificate verify failed")
    assert password not in str(result) and password not in (result.hint or "")
    assert connect_proxy.tunnels[0][0] == f"elsewhere.test:{server.port}"
    registry = outcome(f"https://registry.test:{server.port}/v2/", certificates, environ=environ)
    assert isinstance(registry, Response) and registry.body == b"good", repr(registry)


def tunnel_to(port: int, status: bytes) -> Callable[[socket.socket], None]:
    def reply(conn: socket.socket) -> None:
        with socket.create_connection(("127.0.0.1", port)) as upstream:
            conn.sendall(status)
            relay(conn, upstream)

    return reply


def through(raw, reply: Callable[[socket.socket], None], url: str, certificates) -> Response | Exception:
    """`url` through a proxy that reads the CONNECT head and lets `reply` write (and tunnel) what it will."""
    proxy = raw(lambda conn, n, head: reply(conn) or False)
    return outcome(url, certificates, environ=trusting(certificates, HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}"))


def test_a_proxy_closing_right_after_200_is_a_connection_fault(raw, certificates):
    result = through(
        raw, lambda conn: conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n"), "https://registry.test/v2/", certificates
    )
    refused(result, "connection failed")


def test_a_proxy_answering_connect_in_http_1_0_tunnels(raw, tls, certificates):
    server = tls(sends(FRAMED))
    result = through(
        raw, tunnel_to(server.port, b"HTTP/1.0 200 OK\r\n\r\n"), f"https://registry.test:{server.port}/", certificates
    )
    assert isinstance(result, Response) and result.body == b"good", repr(result)


@pytest.mark.parametrize("split", [False, True])
def test_a_2xx_to_connect_with_a_body_is_refused_whether_or_not_it_arrives_with_the_head(raw, certificates, split):
    """RFC 9110 9.3.6: a 2xx to CONNECT has no body; the bytes are the tunnel's, and no TLS server said them."""

    def reply(conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        if split:
            conn.sendall(head)
            conn.recv(65536)  # the ClientHello: the body comes after the client started TLS
            conn.sendall(b"hello")
        else:
            conn.sendall(head + b"hello")

    result = through(raw, reply, "https://registry.test/v2/", certificates)
    assert isinstance(result, Unavailable), repr(result)
    assert "hello" not in result.message


def test_a_407_with_a_huge_reason_enters_the_message_short(raw, certificates):
    password = "pw" + secrets.token_hex(8)
    reason = (b"denied " + password.encode() + b" ") * 5000  # about 140 KiB: over the line limit
    for phrase in (reason[: 60 << 10], reason):
        proxy = raw(sends(b"HTTP/1.1 407 " + phrase + b"\r\nContent-Length: 0\r\n\r\n", keep=False))
        environ = trusting(certificates, HTTPS_PROXY=f"http://user:{password}@127.0.0.1:{proxy.port}")
        result = outcome("https://registry.test/v2/", certificates, environ=environ)
        assert isinstance(result, Unavailable), repr(result)
        assert len(result.message) < 300 and password not in result.message


# -- the fixes of the first round, again ----------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "https://user:s3cretpassword@elsewhere.test/x?token=s3cretpassword",
        "https://elsewhere.test/" + "a" * 5000,
        "https://elsewhere.test/\u202e\u200bx",
        "//user:s3cretpassword@elsewhere.test:99999/",
    ],
)
def test_a_redirect_target_enters_a_message_short_and_without_userinfo_or_query(tls, certificates, location):
    reply = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()
    result = outcome(tls(sends(reply)).url + "/", certificates)
    assert isinstance(result, PipelineError), repr(result)
    assert "s3cretpassword" not in result.message and len(result.message) < 400
    assert result.message.isprintable()


def test_remembering_credentials_is_once_per_value_and_thread_safe(tls, certificates):
    server = tls(sends(FRAMED))
    token = "tok" + secrets.token_hex(16)
    with (
        command_secrets() as remembered,
        HttpClient(policy=ONCE, timeouts=QUICK, environ=trusting(certificates)) as http,
    ):

        def get(i: int) -> bytes:
            return http.request("GET", f"{server.url}/{i}", headers={"authorization": f"Bearer {token}"}).body

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(get, range(32))) == [b"good"] * 32
        assert http._remembered == {f"Bearer {token}"}
        assert token[:8] in remembered._windows


@pytest.mark.parametrize(
    "value",
    [
        "0" * 5000,
        "9" * 400,
        "-1",
        "1.5",
        "\u0661",  # an Arabic-Indic one: a digit to str, not to HTTP
        "Fri, 31 Dec 9999 23:59:59 -2359",
        "Mon, 01 Jan 0001 00:00:00 +2359",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "1, 2",
        "Sun, 99 Nov 1994 99:99:99 GMT",
        "\x00" * 10,
        "a" * 100_000,
    ],
)
def test_retry_after_edge_cases_are_a_wait_or_none(value):
    wait = parse_retry_after(value, datetime(2026, 1, 1, tzinfo=UTC))
    assert wait is None or wait >= 0


@pytest.mark.parametrize(
    "charset", ["punycode", "utf-7", "utf-16", "utf-32", "cp037", "rot13", "hex", "uu", "x" * 500, "utf_8_sig"]
)
def test_text_decodes_a_hostile_body_in_any_charset_quickly(charset):
    body = bytes(random.Random(7).randrange(256) for _ in range(20_000))
    response = Response(200, "OK", Headers([("Content-Type", f"text/plain; charset={charset}")]), body, "https://x/")
    assert isinstance(response.text, str)


# -- retries over kept-alive TLS connections ------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PATCH", "DELETE"])
def test_a_kept_alive_connection_the_server_closed_unread_is_retried_for_all_but_post(tls, certificates, method):
    """The server answers the first request and keeps the connection, then closes it on the next request
    unanswered (as one closing an idle connection at that instant would)."""

    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        if n == 1:
            return False
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" if method == "HEAD" else FRAMED)
        return True

    server = tls(answer)
    policy = RetryPolicy(max_attempts=2, max_time=5, base_delay=0)
    with HttpClient(policy=policy, timeouts=QUICK, environ=trusting(certificates), sleep=lambda _: None) as http:
        http.request(method, server.url + "/", body=b"x" if method in ("PUT", "PATCH") else None)
        assert http.request(method, server.url + "/", body=b"x" if method in ("PUT", "PATCH") else None).status == 200
    assert len(server.heads) == 3 and server.connections == 2


def test_a_post_on_a_kept_alive_connection_closed_unanswered_is_not_sent_twice(tls, certificates):
    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        if n == 1:
            return False
        conn.sendall(FRAMED)
        return True

    server = tls(answer)
    policy = RetryPolicy(max_attempts=3, max_time=5, base_delay=0)
    with HttpClient(policy=policy, timeouts=QUICK, environ=trusting(certificates), sleep=lambda _: None) as http:
        http.request("POST", server.url + "/", body=b"x")
        with pytest.raises(Unavailable, match="not sent twice"):
            http.request("POST", server.url + "/", body=b"x")
    assert len(server.heads) == 2


def test_many_threads_one_client_and_a_tls_server_closing_at_random_each_get_their_own_answer(tls, certificates):
    chance = random.Random(11)
    lock = threading.Lock()

    def answer(conn: ssl.SSLSocket, n: int, head: bytes) -> bool:
        path = head.split(b" ")[1]
        with lock:
            fate = chance.randrange(4)
        said = b"Connection: close\r\n" if fate == 0 else b""
        conn.sendall(b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (said, len(path), path))
        if fate == 1:
            notify_close(conn)
        return fate == 3  # 2: a bare close, unannounced

    server = tls(answer)
    policy = RetryPolicy(max_attempts=20, max_time=10, base_delay=0)
    with HttpClient(policy=policy, timeouts=QUICK, environ=trusting(certificates), sleep=lambda _: None) as http:

        def get(i: int) -> bytes:
            return http.request("GET", f"{server.url}/p{i}").body

        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(get, range(64)))
    assert bodies == [f"/p{i}".encode() for i in range(64)]


# -- ssl only where https is --------------------------------------------------------------------------


def fresh_process(ca: Path, code: str) -> str:
    """`code` run in a new interpreter, with `http` an HttpClient trusting `ca`; what it printed."""
    script = (
        "import sys\nfrom pipelines.edges.http import HttpClient, RetryPolicy\n"
        f"http = HttpClient(policy=RetryPolicy(max_attempts=1, max_time=5), environ={{'SSL_CERT_FILE': {str(ca)!r}}})\n"
        + textwrap.dedent(code)
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_a_plain_http_request_does_not_import_ssl_and_an_https_one_works_in_a_fresh_process(tls, certificates):
    server = tls(sends(FRAMED))
    plain = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = plain.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head and (data := conn.recv(65536)):
                head += data
            conn.sendall(FRAMED)

    threading.Thread(target=serve, daemon=True).start()
    try:
        result = fresh_process(
            certificates.ca,
            f"""
            assert http.request("GET", "http://127.0.0.1:{plain.getsockname()[1]}/").body == b"good"
            print("ssl" in sys.modules, end=" ")
            assert http.request("GET", "{server.url}/").body == b"good"
            print("ssl" in sys.modules)
        """,
        )
    finally:
        plain.close()
    assert result == "False True"


def test_a_tls_connection_is_kept_alive_across_requests(tls, certificates):
    """TLS 1.3 session tickets arrive after the handshake: they must not make an idle connection look dropped."""
    server = tls(sends(FRAMED))
    with HttpClient(policy=ONCE, timeouts=QUICK, environ=trusting(certificates)) as http:
        assert [http.request("GET", f"{server.url}/{i}").body for i in range(5)] == [b"good"] * 5
        assert http.connections_opened == 1
    assert server.connections == 1


def test_a_handshake_trickled_a_byte_at_a_time_ends_at_the_connect_timeout(certificates):
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)  # the ClientHello
            conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16 KiB, then a byte every 20 ms
            while not stop.wait(0.02):
                conn.sendall(b"\x02")

    threading.Thread(target=serve, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
        result = outcome(url, certificates, timeouts=Timeouts(connect=0.3, read=0.3, request=3))
    finally:
        stop.set()
        listener.close()
    refused(result, "timed out")


def test_a_remote_origin_cannot_redirect_to_a_service_on_this_machine(tls, certificates, connect_proxy):
    local = socket.create_server(("127.0.0.1", 0))
    heard: list[bytes] = []

    def serve() -> None:
        try:
            conn, _ = local.accept()
        except OSError:
            return
        with conn:
            heard.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nlocal secrets")

    threading.Thread(target=serve, daemon=True).start()
    target = f"http://127.0.0.1:{local.getsockname()[1]}/v1/kv/"
    server = tls(sends(f"HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n".encode()))
    environ = trusting(certificates, HTTPS_PROXY=f"http://127.0.0.1:{connect_proxy.port}")
    try:
        result = outcome(f"https://registry.test:{server.port}/v2/", certificates, environ=environ)
    finally:
        local.close()
    assert isinstance(result, PipelineError), repr(result)
    assert heard == []
