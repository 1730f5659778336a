"""A git remote over HTTPS on loopback that checks a token as GitHub does: `git http-backend` behind a gate.

GitHub's git endpoint takes a token as HTTP Basic credentials (`x-access-token:TOKEN`, what deploy-pr
sends in `http.extraHeader`) and answers 401 with a Basic challenge when the token is invalid, expired
or revoked, and 403 to a push when the token may only read. This server does the same in front of
git's own smart-HTTP backend (`git http-backend`, as CGI), so the real git client talks the real
protocol, over TLS verified against a certificate made here by openssl (git reads GIT_SSL_CAINFO).
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kit.loopback import LoopbackServer, reply

READ, WRITE = "read", "write"


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM), made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (make test installs it)")
    cert, key = folder / "git-server.pem", folder / "git-server.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class GitServer:
    """Serves the bare repositories under `root`; `tokens` maps each accepted token to READ or WRITE."""

    root: Path
    tokens: dict[str, str]
    url: str = ""
    ca: Path = Path()
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status)

    def remote(self, name: str) -> str:
        return f"{self.url}/{name}"


def _token(header: str | None) -> str | None:
    """The password of HTTP Basic credentials (the token), or None."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        _user, _, password = base64.b64decode(credentials).decode().partition(":")
    except ValueError:
        return None
    return password or None


def _handler(server: GitServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            server.requests.append((self.command, self.path, status))
            reply(self, status, body, headers)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().strip(), 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            body = self._body() if self.command == "POST" else b""
            parts = urlsplit(self.path)
            pushing = "git-receive-pack" in parts.path or "service=git-receive-pack" in parts.query
            right = server.tokens.get(_token(self.headers.get("Authorization")) or "")
            if right is None:
                # GitHub's answer to a missing, invalid, expired or revoked token.
                challenge = {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"}
                self._answer(401, b"Invalid username or token.\n", challenge)
                return
            if pushing and right != WRITE:
                message = b"Permission to labs/percolate.git denied to deploy-bot.\n"
                self._answer(403, message, {"Content-Type": "text/plain"})
                return
            self._backend(parts.path, parts.query, body)

        def _backend(self, path: str, query: str, body: bytes) -> None:
            env = {
                "PATH": os.environ["PATH"],
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REMOTE_USER": "x-access-token",  # an authenticated user: http-backend then accepts pushes
                "REMOTE_ADDR": "127.0.0.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "HTTP_GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            result = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
            status = int(headers.pop("Status", "200").split()[0])
            self._answer(status, payload, headers)

        do_GET = do_POST = _serve

    return Handler


@contextmanager
def serving(root: Path, tokens: dict[str, str], folder: Path) -> Iterator[GitServer]:
    """A `GitServer` for the bare repositories in `root`, on a free port of 127.0.0.1, until the block ends."""
    cert, key = certificate(folder)
    server = GitServer(root, tokens, ca=cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with LoopbackServer(_handler(server), tls=context) as httpd:
        server.url = httpd.url
        yield server
