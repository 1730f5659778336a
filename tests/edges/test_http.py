"""The one HTTP layer (`pipelines.edges.http`) against real servers on loopback: retries, deadlines,
redirects, header and body hygiene, keep-alive, TLS and proxies. Its pure parts: test_http_rules.py."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from random import Random
from typing import Any
from urllib.parse import quote

import pytest

from pipelines.core.errors import Corrupt, InputError, Unavailable
from pipelines.edges.http import Headers, HttpClient, RetryPolicy, Timeouts
from tests.conftest import REPO_ROOT

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
FAST = RetryPolicy(max_time=30, base_delay=0.01, max_delay=0.02)


class Fractions(Random):
    """A random source that returns the given fractions in turn: the jitter a test expects, exactly."""

    def __init__(self, *fractions: float) -> None:
        super().__init__(0)
        self._fractions = list(fractions)

    def random(self) -> float:
        return self._fractions.pop(0)


def failing(times: int, status: int = 503, headers: dict[str, str] | None = None, body: bytes = b"busy"):
    """A handler answering `status` `times` times, then 200 "done"."""
    left = [times]

    def handle(h: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            h.reply(status, body, headers)
        else:
            h.reply(200, b"done")

    return handle


def trickle(delay: float, *, headers_too: bool = False):
    """A handler that sends its answer one byte every `delay` seconds (status line included when headers_too)."""

    def handle(h: Any) -> None:
        # A minute of trickling at 0.1 s: a client without a total deadline takes that long, and fails the test.
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n"
        if not headers_too:
            h.wfile.write(head)
            h.wfile.flush()
            head = b""
        for byte in head + b"x" * 600:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(delay)

    return handle


# -- retries -----------------------------------------------------------------------------------------


def test_retry_after_in_seconds_sets_the_wait(serve):
    server = serve(failing(1, 503, {"Retry-After": "7"}))
    waits: list[float] = []
    with HttpClient(policy=FAST, sleep=waits.append) as client:
        response = client.request("GET", server.url + "/x")
    assert (response.status, response.body) == (200, b"done")
    assert waits == [7.0] and client.retries == 1
    assert len(server.seen) == 2


@pytest.mark.parametrize("stops_after", [1, 3, None])
def test_a_caller_that_stops_cuts_the_wait_for_a_retry_short_and_sends_no_more(serve, stops_after):
    """A request whose answer its caller no longer needs (promote's listing that lost): the wait for the retry
    is slept in short steps, ending at the first step after the caller stops; no attempt follows."""
    server = serve(failing(1, 429, {"Retry-After": "30"}))
    waits: list[float] = []
    with HttpClient(policy=RetryPolicy(max_time=60), sleep=waits.append) as client:
        stop = (lambda: len(waits) >= stops_after) if stops_after else (lambda: False)
        if stops_after is None:  # the control: never stopped, it waits the whole 30 s and is answered
            assert client.request("GET", server.url, stop=stop).status == 200
        else:
            with pytest.raises(Unavailable, match="stopped: no longer needed") as raised:
                client.request("GET", server.url, stop=stop)
            assert "gave up after 1 attempt(s)" in raised.value.message
    if stops_after is None:
        assert sum(waits) == pytest.approx(30.0) and len(server.seen) == 2
    else:
        assert waits == [0.05] * stops_after and len(server.seen) == 1


def test_retry_after_as_an_http_date_sets_the_wait(serve):
    server = serve(failing(1, 429, {"Retry-After": format_datetime(NOW + timedelta(seconds=42), usegmt=True)}))
    waits: list[float] = []
    with HttpClient(policy=RetryPolicy(max_time=60), sleep=waits.append, now=lambda: NOW) as client:
        assert client.request("GET", server.url).status == 200
    assert waits == [42.0]


def test_backoff_is_exponential_and_its_jitter_comes_from_the_random_source(serve):
    server = serve(failing(4, 500))
    waits: list[float] = []
    policy = RetryPolicy(max_time=600, base_delay=1, max_delay=4)
    with HttpClient(policy=policy, sleep=waits.append, rng=Fractions(0.0, 0.5, 0.999, 0.25)) as client:
        assert client.request("GET", server.url).status == 200
    # Half of each step (1, 2, 4, 4) is fixed, half is the fraction the random source gave.
    assert waits == pytest.approx([0.5, 1.5, 3.998, 2.5])
    for attempt, wait in enumerate(waits):
        assert min(4, 2**attempt) / 2 <= wait <= min(4, 2**attempt)


def test_a_service_that_keeps_failing_gives_up_with_unavailable_within_the_deadline(serve):
    server = serve(failing(10**6, 503))
    started = time.monotonic()
    with (
        HttpClient(policy=RetryPolicy(max_time=1.5, max_attempts=100, base_delay=0.2, max_delay=0.4)) as client,
        pytest.raises(Unavailable) as raised,
    ):
        client.request("GET", server.url + "/busy")
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1.0
    assert "did not complete GET /busy" in raised.value.message and "HTTP 503 (busy)" in raised.value.message
    assert "gave up after" in raised.value.message and len(server.seen) >= 3


def test_a_refused_connection_is_retried_then_reported_in_our_words():
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        waits: list[float] = []
        with (
            HttpClient(policy=RetryPolicy(max_attempts=3), sleep=waits.append) as client,
            pytest.raises(Unavailable) as raised,
        ):
            client.request("GET", f"http://user:pa55word@127.0.0.1:{port}/x?token=s3cret")
    assert len(waits) == 2
    assert "connection failed (connection refused)" in raised.value.message
    assert "pa55word" not in str(raised.value) and "s3cret" not in str(raised.value)


def test_a_post_whose_answer_was_lost_is_not_sent_again_but_a_refused_one_is(serve):
    def drop(h: Any) -> None:
        h.close_connection = True  # the request arrived; its answer never leaves

    lost = serve(drop)
    with HttpClient(policy=FAST) as client, pytest.raises(Unavailable) as raised:
        client.request("POST", lost.url + "/pulls", body=b"{}")
    assert len(lost.seen) == 1
    assert "a POST is not sent twice" in raised.value.message
    refused = serve(failing(1, 503))
    with HttpClient(policy=FAST, sleep=lambda _: None) as client:
        assert client.request("POST", refused.url + "/pulls", body=b"{}").status == 200
    assert len(refused.seen) == 2


# -- deadlines ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers_too", [False, True], ids=["trickling-body", "trickling-status-line"])
def test_a_trickling_server_is_cut_off_at_the_request_deadline(serve, headers_too):
    # One byte every 0.1 s never trips a 2 s read timeout; only a total deadline ends the request. The bound below
    # leaves a loaded machine ten times the deadline and is still far below the trickle's minute.
    server = serve(trickle(0.1, headers_too=headers_too))
    started = time.monotonic()
    with (
        HttpClient(policy=RetryPolicy(max_time=60, max_attempts=1), timeouts=Timeouts(read=2, request=0.5)) as client,
        pytest.raises(Unavailable) as raised,
    ):
        client.request("GET", server.url)
    assert time.monotonic() - started < 5
    assert "no whole answer within the time limit" in raised.value.message


def test_the_clients_deadline_cuts_a_request_with_a_longer_limit(serve):
    server = serve(trickle(0.1))
    started = time.monotonic()
    with (
        HttpClient(policy=RetryPolicy(max_time=0.5), timeouts=Timeouts(read=2, request=300)) as client,
        pytest.raises(Unavailable, match="time limit"),
    ):
        client.request("GET", server.url)
    assert time.monotonic() - started < 5


def test_a_body_over_the_stated_cap_is_refused(serve):
    declared = serve(lambda h: h.reply(200, b"y" * 2000))

    def undeclared(h: Any) -> None:  # no Content-Length: the body ends when the connection closes
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b"z" * 5000)
        h.close_connection = True

    endless = serve(undeclared)
    with HttpClient(policy=FAST) as client:
        for server in (declared, endless):
            with pytest.raises(Corrupt, match="more than 1000 bytes"):
                client.request("GET", server.url + "/big", max_body=1000)
        assert client.request("GET", declared.url, max_body=2000).body == b"y" * 2000


# -- redirects ---------------------------------------------------------------------------------------


def test_a_redirect_to_another_host_drops_authorization_and_one_on_the_same_origin_keeps_it(serve):
    other = serve(lambda h: h.reply(200, b"elsewhere"), host="127.0.0.2")

    def handle(h: Any) -> None:
        if h.path == "/away":
            h.reply(302, headers={"Location": other.url + "/landed"})
        elif h.path == "/near":
            h.reply(301, headers={"Location": "/here"})
        else:
            h.reply(200, b"here")

    origin = serve(handle)
    with HttpClient(policy=FAST) as client:
        away = client.request("GET", origin.url + "/away", headers={"Authorization": "Bearer t0ken"})
        near = client.request("GET", origin.url + "/near", headers={"Authorization": "Bearer t0ken"})
    assert (away.status, away.body, away.url) == (200, b"elsewhere", other.url + "/landed")
    assert "Authorization" not in other.seen[0].headers
    assert (near.body, near.url) == (b"here", origin.url + "/here")
    assert [seen.headers.get("Authorization") for seen in origin.seen] == ["Bearer t0ken"] * 3


def test_a_redirect_to_plain_http_elsewhere_is_refused(serve):
    server = serve(lambda h: h.reply(302, headers={"Location": "http://example.invalid/next?signature=s3cret"}))
    with HttpClient(policy=FAST) as client, pytest.raises(InputError) as raised:
        client.request("GET", server.url + "/start")
    assert "redirect target" in raised.value.message and "is not an https URL" in raised.value.message
    assert "http://example.invalid/next" in raised.value.message and "s3cret" not in str(raised.value)


def test_put_is_never_redirected_and_redirect_loops_end(serve):
    server = serve(lambda h: h.reply(307, headers={"Location": "/again"}))
    with HttpClient(policy=FAST) as client:
        assert client.request("PUT", server.url + "/x", body=b"data").status == 307
        assert len(server.seen) == 1
        with pytest.raises(Corrupt, match="redirects more than 5 times"):
            client.request("GET", server.url + "/x")
    assert len(server.seen) == 1 + 6


# -- what leaves, what is said -------------------------------------------------------------------------


def test_a_header_with_a_line_break_is_refused_without_echoing_its_value(serve):
    server = serve(lambda h: h.reply(200))
    with HttpClient(policy=FAST) as client, pytest.raises(InputError) as raised:
        client.request("GET", server.url, headers={"Authorization": "Bearer s3cret\r\nX-Injected: yes"})
    assert "Authorization" in raised.value.message
    assert "s3cret" not in str(raised.value) and "Injected" not in str(raised.value)
    assert server.seen == []


def test_a_5xx_body_enters_a_message_only_as_a_short_one_line_excerpt(serve):
    body = b"\x1b[31mstart of the page " + b"x" * 10_000 + b" END-OF-BODY\r\nSet-Cookie: session=s3cret"
    server = serve(lambda h: h.reply(500, body))
    with HttpClient(policy=RetryPolicy(max_attempts=1)) as client, pytest.raises(Unavailable) as raised:
        client.request("GET", server.url)
    message = raised.value.message
    assert "HTTP 500 (" in message and "start of the page" in message
    assert len(message) < 400 and "\x1b" not in message and "\n" not in message
    assert "END-OF-BODY" not in message and "s3cret" not in message


# -- connections -------------------------------------------------------------------------------------


def test_connections_are_kept_alive_per_origin(serve):
    first, second = serve(lambda h: h.reply(200, b"1")), serve(lambda h: h.reply(200, b"2"))
    with HttpClient(policy=FAST) as client:
        for _ in range(5):
            assert client.request("GET", first.url + "/a").body == b"1"
            assert client.request("HEAD", first.url + "/b").body == b""
        assert client.request("GET", second.url).body == b"2"
        assert client.connections_opened == 2
    assert (first.connections, second.connections) == (1, 1)
    assert all(seen.headers["User-Agent"] == "percolate-pipelines" for seen in first.seen)


def test_a_connection_is_reused_by_the_next_request_whichever_thread_sends_it(serve):
    server = serve(lambda h: h.reply(200, b"ok"))
    answers: list[bytes] = []
    with HttpClient(policy=FAST) as client:
        answers.append(client.request("GET", server.url).body)
        for _ in range(2):  # other threads, while this one lives on
            sender = threading.Thread(target=lambda: answers.append(client.request("GET", server.url).body))
            sender.start()
            sender.join()
            answers.append(client.request("GET", server.url).body)
        assert client.connections_opened == 1
    assert answers == [b"ok"] * 5 and server.connections == 1


def test_requests_sent_at_once_each_hold_a_connection_and_leave_them_for_the_next(serve):
    together = threading.Barrier(3, timeout=10)

    def answer(handler: Any) -> None:
        if handler.path == "/together":
            together.wait()  # the server answers only once all three are in: three connections at once
        handler.reply(200, b"ok")

    server = serve(answer)
    with HttpClient(policy=FAST) as client, ThreadPoolExecutor(3) as pool:
        at_once = [pool.submit(client.request, "GET", server.url + "/together") for _ in range(3)]
        assert [future.result().body for future in at_once] == [b"ok"] * 3
        for _ in range(3):  # from this thread, which held none of them
            assert client.request("GET", server.url + "/after").body == b"ok"
        assert client.connections_opened == 3
    assert server.connections == 3


def test_a_server_that_closes_after_each_answer_gets_a_new_connection_without_a_retry(serve):
    server = serve(lambda h: h.reply(200, b"ok"), protocol="HTTP/1.0")
    with HttpClient(policy=FAST) as client:
        assert [client.request("GET", server.url).body for _ in range(3)] == [b"ok"] * 3
        assert client.retries == 0
    assert server.connections == 3


def test_tls_is_always_verified_and_a_private_ca_is_honoured(serve, certificates):
    server = serve(lambda h: h.reply(200, b"secure"), tls=certificates.server_context())
    with HttpClient(policy=FAST, environ={}) as client, pytest.raises(Unavailable) as raised:
        client.request("GET", server.url)
    assert "TLS certificate verify failed" in raised.value.message and raised.value.hint
    with HttpClient(policy=FAST, environ={"SSL_CERT_FILE": str(certificates.ca)}) as client:
        assert client.request("GET", server.url).body == b"secure"
    with (
        HttpClient(policy=FAST, environ={"SSL_CERT_FILE": "/no/such/ca.pem"}) as client,
        pytest.raises(InputError, match="SSL_CERT_FILE"),
    ):
        client.request("GET", server.url)


def test_https_goes_through_the_proxy_tunnel_but_never_for_loopback_or_no_proxy(serve, certificates, connect_proxy):
    server = serve(lambda h: h.reply(200, b"tunnelled"), tls=certificates.server_context())
    environ = {
        "HTTPS_PROXY": f"http://proxy-user:{quote('pa@ss')}@127.0.0.1:{connect_proxy.port}",
        "SSL_CERT_FILE": str(certificates.ca),
    }
    with HttpClient(policy=FAST, environ=environ) as client:
        assert client.request("GET", f"https://registry.test:{server.port}/v2/").body == b"tunnelled"
        assert client.request("GET", f"https://localhost:{server.port}/v2/").body == b"tunnelled"
    (tunnel,) = connect_proxy.tunnels
    assert tunnel == (f"registry.test:{server.port}", "Basic cHJveHktdXNlcjpwYUBzcw==")  # proxy-user:pa@ss
    bypass = {**environ, "NO_PROXY": "example.com,.test"}
    with (
        HttpClient(policy=RetryPolicy(max_attempts=1), environ=bypass) as client,
        pytest.raises(Unavailable, match=r"cannot resolve registry\.test"),
    ):
        client.request("GET", f"https://registry.test:{server.port}/v2/")
    assert len(connect_proxy.tunnels) == 1


# -- values and parsers --------------------------------------------------------------------------------


def test_headers_are_case_insensitive_and_repeated_fields_join(serve):
    def handle(h: Any) -> None:
        h.send_response(200)
        h.send_header("Link", '</v2/x/tags/list?n=2&last=b>; rel="next"')
        h.send_header("link", '</v2/x/tags/list>; rel="first"')
        h.send_header("Content-Length", "0")
        h.end_headers()

    server = serve(handle)
    with HttpClient(policy=FAST) as client:
        response = client.request("GET", server.url)
    assert response.headers["LINK"] == response.headers["link"]
    assert response.links["next"].target == "/v2/x/tags/list?n=2&last=b"
    assert response.links["first"].target == "/v2/x/tags/list"
    assert dict(Headers([("A", "1"), ("a", "2")])) == {"A": "1, 2"}


def test_a_content_length_of_unicode_digits_is_not_a_crash(serve):
    """`"²".isdigit()` is true, but int() refuses it: the declared length is read as absent, not a ValueError."""

    def handle(h: Any) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "²")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b"ok")
        h.close_connection = True

    server = serve(handle)
    # An answer, or our own words for a malformed one, are fine; a ValueError is not.
    with HttpClient(policy=FAST) as client, suppress(Corrupt, Unavailable):
        client.request("GET", server.url)


def test_a_proxy_echoing_its_credentials_never_gets_them_printed(capsys):
    """A proxy's 407 reason phrase quoting the Proxy-Authorization it was sent: nothing of the password, raw or
    as its Basic form, reaches the output."""
    import socket

    from pipelines.cli import main

    password = "Pr0xyS3cretPassw0rd"
    listener = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            head = client.recv(65536).decode("latin-1")
            sent = next((line for line in head.split("\r\n") if line.startswith("Proxy-Authorization:")), "")
            client.sendall(f"HTTP/1.1 407 Denied {sent} {password}\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
            client.close()

    threading.Thread(target=answer, daemon=True).start()
    proxy = f"http://puser:{password}@127.0.0.1:{listener.getsockname()[1]}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HTTPS_PROXY", proxy)
        for extra in ([], ["--json"]):
            code = main(
                ["staging", "show", "percolate-v0.2.0", "--registry", "registry.test/ns", "--max-time", "5", *extra]
            )
            out, err = capsys.readouterr()
            assert code == 1, err
            basic = "cHVzZXI6UHIweHlTM2NyZXRQYXNzdzByZA=="  # puser:Pr0xyS3cretPassw0rd
            for secret in (password, basic):
                assert not [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in out + err]
    listener.close()


_IDNA_PROBE = """
import socket, sys, threading

listener = socket.socket()
listener.bind(("127.0.0.1", 0))  # an ASCII address as text: no codec here
listener.listen()

def answer():
    connection, _ = listener.accept()
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
    connection.close()

threading.Thread(target=answer, daemon=True).start()
port = listener.getsockname()[1]
before = "encodings.idna" in sys.modules
if sys.argv[1] == "http-layer":
    from pipelines.edges.http import HttpClient
    with HttpClient() as client:
        assert client.request("GET", f"http://127.0.0.1:{port}/").body == b"ok"
else:  # the control: what http.client does with a host name as text
    socket.create_connection(("127.0.0.1", port)).close()
print(before, "encodings.idna" in sys.modules)
"""


@pytest.mark.parametrize(("how", "imported"), [("http-layer", "False False"), ("control", "False True")])
def test_a_loopback_request_does_not_import_the_idna_codec(how, imported):
    """A str host name goes through the idna codec in getaddrinfo (stringprep, unicodedata: milliseconds of
    every command's start); the HTTP layer hands ASCII names over as bytes. The control shows the probe sees it."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    probe = subprocess.run(
        [sys.executable, "-c", _IDNA_PROBE, how],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env=environment,
    )
    assert probe.stdout.strip() == imported
