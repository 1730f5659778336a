"""Real servers on loopback for the HTTP layer's tests: scripted HTTP(S) servers (the kit's recording
server) and a CONNECT proxy.

Nothing here stands in for the code under test: the client speaks to real sockets, and
each server records what arrived (requests, headers, accepted connections, tunnels).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kit.loopback import RecordingHandler, RecordingServer
from tests.support.scripted_server import Answer, ScriptedServer, relay


@pytest.fixture
def serve() -> Iterator[Callable[..., RecordingServer]]:
    """serve(handle, host=..., protocol=..., tls=...) starts a RecordingServer; all are stopped after the test."""
    started: list[RecordingServer] = []

    def start(
        handle: Callable[[RecordingHandler], None],
        host: str = "127.0.0.1",
        protocol: str = "HTTP/1.1",
        tls: ssl.SSLContext | None = None,
    ) -> RecordingServer:
        server = RecordingServer(handle, bind=host, protocol=protocol, tls=tls).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the private CA's certificate (PEM), what SSL_CERT_FILE names
    chain: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.chain, self.key)
        return context


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A private CA and a server certificate for registry.test, localhost and 127.0.0.1, made by openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (make test installs it)")
    folder = tmp_path_factory.mktemp("tls")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=registry.test")
    (folder / "ext.cnf").write_text(
        "subjectAltName=DNS:registry.test,DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n"
    )
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")


@dataclass
class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), resolving names through `hosts` as a proxy's own DNS would."""

    hosts: dict[str, str]
    tunnels: list[tuple[str, str]] = field(default_factory=list)  # (CONNECT target, Proxy-Authorization)

    def start(self) -> ConnectProxy:
        self._server = ScriptedServer(self._tunnel)
        self.port = self._server.port
        return self

    def stop(self) -> None:
        self._server.stop()

    def _tunnel(self, client: socket.socket, n: int, head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        self.tunnels.append((target, fields.get("Proxy-Authorization", "")))
        name, _, port = target.rpartition(":")
        with socket.create_connection((self.hosts.get(name, name), int(port))) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            relay(client, upstream)
        return False  # the tunnel ended: the connection closes


@pytest.fixture
def connect_proxy() -> Iterator[ConnectProxy]:
    proxy = ConnectProxy({"registry.test": "127.0.0.1"}).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def raw() -> Iterator[Callable[[Answer], ScriptedServer]]:
    """raw(answer) starts a ScriptedServer speaking plain http; all are stopped after the test."""
    started: list[ScriptedServer] = []

    def start(answer: Answer) -> ScriptedServer:
        started.append(ScriptedServer(answer))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tls(certificates: Certificates) -> Iterator[Callable[[Answer], ScriptedServer]]:
    """tls(answer) starts a ScriptedServer speaking TLS with the private CA's server certificate."""
    started: list[ScriptedServer] = []

    def start(answer: Answer) -> ScriptedServer:
        started.append(ScriptedServer(answer, certificates.server_context()))
        return started[-1]

    yield start
    for server in started:
        server.stop()
