"""A server on loopback that answers with whatever bytes a test scripts: the hostile server of the HTTP layer's
attacks (`tests/edges/test_http_wire_attacks*.py`).

It reads each request's head (and skips the body its Content-Length declares), counts requests and
connections, and hands every request to the test's `answer(connection, n, head)`: `n` counts the requests
of the whole server, the answer writes raw bytes (or, over TLS, records) and returns whether to keep the
connection. Given a TLS context, it speaks TLS first.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Callable

Answer = Callable[[socket.socket, int, bytes], bool]


class ScriptedServer:
    """A socket on `bind` (127.0.0.1) that reads request heads and lets a test's `answer` write what comes back."""

    def __init__(self, answer: Answer, context: ssl.SSLContext | None = None, bind: str = "127.0.0.1") -> None:
        self.answer, self._context = answer, context
        self._listener = socket.create_server((bind, 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if context else 'http'}://{bind}:{self.port}"
        self.heads: list[bytes] = []
        self.connections = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(5)
            conn = self._context.wrap_socket(raw, server_side=True) if self._context else raw
        except (OSError, ValueError):
            raw.close()
            return
        buffer = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(buffer) < length and (data := conn.recv(65536)):
                    buffer += data
                buffer = buffer[length:]
                with self._lock:
                    self.heads.append(head)
                    n = len(self.heads) - 1
                if not self.answer(conn, n, head):
                    return
        except (OSError, ValueError):
            return
        finally:
            conn.close()


def sends(*replies: bytes, keep: bool = True) -> Answer:
    """An answer that writes replies[n] (the last one again for later requests); it closes unless `keep`."""

    def answer(conn: socket.socket, n: int, head: bytes) -> bool:
        conn.sendall(replies[min(n, len(replies) - 1)])
        return keep

    return answer


def relay(client: socket.socket, upstream: socket.socket, idle: float = 5) -> None:
    """Copy bytes both ways (a proxy's tunnel) until either side closes or neither sends for `idle` seconds."""
    sockets = [client, upstream]
    while True:
        readable, _, _ = select.select(sockets, [], [], idle)
        if not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (upstream if source is client else client).sendall(data)
