"""HTTP servers on loopback: what every stand-in of the tests, the demo and the benchmarks runs on.

Owns the plumbing of a local HTTP server once: a free port of 127.0.0.1, a thread that serves it (each
request in a daemon thread of its own), no request log and no traceback of a client that hung up, TLS when
given a context, start/stop and `with`. `serving(handler)` is that server for the length of a block;
`reply` is the one way a handler answers (its length declared, no body to a HEAD). `RecordingServer`
records every request it received and the connections it accepted, and lets a test's `answer(handler)`
reply.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import requests

LOOPBACK = "127.0.0.1"
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def free_port(host: str = LOOPBACK) -> int:
    """A port of `host` that nothing listened on a moment ago (for a server of another process)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_serving(url: str, process: subprocess.Popen[bytes] | None = None, *, seconds: float = 30) -> None:
    """Wait until `url` answers below 500 (a server of another process starting); RuntimeError when `process`
    exits first or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: Headers | None = None) -> None:
    """Answer the handler's request: `status`, `headers` in their order, Content-Length unless given, and
    `body` unless the request was a HEAD."""
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    handler.send_response(status)
    for name, value in pairs:
        handler.send_header(name, value)
    if not any(name.lower() == "content-length" for name, _ in pairs):
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer

    def get_request(self) -> tuple[socket.socket, Any]:
        accepted = super().get_request()
        self.owner.connections += 1
        return accepted

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hung up mid-answer is what some tests are about, not a traceback on stderr
        (which a command's output, captured in-process, would show)."""


def _quiet(self: BaseHTTPRequestHandler, format: str, *args: Any) -> None:
    return


class LoopbackServer:
    """`handler` served on a free port of `bind` (127.0.0.1), over TLS with `tls`; bound at once, served from
    `start()` (or `with`) until `stop()`. `connections` counts the connections it accepted."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], *, bind: str = LOOPBACK, tls: ssl.SSLContext | None = None
    ) -> None:
        # Answers go out as written: a handler writes its head and its body separately, and with Nagle's
        # algorithm the body would wait for the client's delayed ACK of the head (up to 40 ms an answer).
        quiet = type(handler.__name__, (handler,), {"log_message": _quiet, "disable_nagle_algorithm": True})
        self._server = _Server((bind, 0), quiet)
        self._server.owner = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.bind, self.tls = bind, tls
        self.port: int = self._server.server_address[1]
        self.connections = 0
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """HOST:PORT, e.g. 127.0.0.1:40123 (what a registry reference starts with)."""
        return f"{self.bind}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, no slash."""
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `handler` on a free port of 127.0.0.1 until the block ends; its base URL, no slash."""
    with LoopbackServer(handler, tls=tls) as server:
        yield server.url


@dataclass(frozen=True)
class Seen:
    """A request as it arrived: its method, path (with the query), headers, body, and when (time.monotonic())."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class RecordingHandler(BaseHTTPRequestHandler):
    """Records each request in its server's `seen`, then lets the server's `answer(handler)` reply."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        recorder = self.server.owner
        assert isinstance(recorder, RecordingServer)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorder.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body, time.monotonic()))
        try:
            recorder.respond(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def reply(self, status: int, body: bytes = b"", headers: Headers | None = None) -> None:
        reply(self, status, body, headers)


class RecordingServer(LoopbackServer):
    """A loopback server that records every request (`seen`) and answers each with `answer(handler)`;
    `protocol` is the HTTP version it speaks (HTTP/1.1 keeps connections open)."""

    def __init__(
        self,
        answer: Callable[[RecordingHandler], None],
        *,
        protocol: str = "HTTP/1.1",
        bind: str = LOOPBACK,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.respond = answer
        self.seen: list[Seen] = []
        handler = type("Recording", (RecordingHandler,), {"protocol_version": protocol})
        super().__init__(handler, bind=bind, tls=tls)
