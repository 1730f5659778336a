"""Fixtures of the health gate's tests: a loopback server answering like the Kubernetes API, kubeconfigs, Applications.

A Kubernetes API server with Argo CD cannot run here, so `FakeKubeApi` answers the requests
the gate makes: GET of rollouts and analysisruns and the abort PATCH of rollouts/{name}/status
(for a canary, recorded in `patches`), and GET /apis/argoproj.io/v1alpha1/namespaces/{ns}/applications/{name},
the way the API server does: 401 Status for a wrong bearer token, 403 Status for a
forbidden namespace, 404 Status for an Application it does not hold, and otherwise the
next object of a scripted sequence (the last one repeats). Applications are built in
the shape of Argo CD's CRD (spec.source.kustomize.images, status.sync/health/
operationState/summary/conditions/resources).

Like the API server, it reads header names and the `Bearer` scheme case-insensitively: the
official Kubernetes client sends `authorization: bearer …` for in-cluster service accounts.
Over TLS it presents a certificate for 127.0.0.1 signed by a throwaway CA (openssl), and
either requires a client certificate of that CA or accepts a token alone.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from kit import loopback
from kit.loopback import LoopbackServer
from pipelines.edges import clock

TOKEN = "test-token-0123456789"
NEW_DIGEST = "sha256:" + "1a" * 32
OLD_DIGEST = "sha256:" + "0f" * 32
APP = "percolate-api"
REPOSITORY = "ghcr.io/percolation-labs/percolate"
_APPLICATION_PATH = re.compile(r"/apis/argoproj\.io/v1alpha1/namespaces/([^/]+)/applications/([^/?]+)")
# Argo Rollouts objects the canary gate reads, and the status subresource its abort patches.
_ROLLOUTS_PATH = re.compile(
    r"/apis/argoproj\.io/v1alpha1/namespaces/([^/]+)/(rollouts|analysisruns)/([^/?]+)(/status)?"
)


@dataclass
class Reply:
    """A scripted non-Application answer: an HTTP status with a body and headers, after `delay` seconds.

    `trickle` sends the body one byte at a time, that many seconds apart (a server stretching its answer).
    """

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0


def status_object(code: int, reason: str, message: str) -> dict[str, Any]:
    """A Kubernetes `Status` object as the API server returns it with an error."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass
class FakeKubeApi:
    """What the loopback API server serves and what it was asked."""

    url: str = ""
    token: str = TOKEN
    scripts: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    forbidden_namespaces: set[str] = field(default_factory=set)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    patches: list[dict[str, Any]] = field(default_factory=list)
    forbidden_patch: bool = False

    def script_object(self, plural: str, *replies: Any, name: str, namespace: str = "percolate") -> None:
        """Serve `replies` in order to GETs of a rollout or analysisrun (the last one repeats)."""
        self.objects[(plural, namespace, name)] = list(replies)

    def answer_object(self, method: str, path: str, authorization: str | None, body: bytes) -> Reply | None:
        """Answer a GET of a Rollout or AnalysisRun, or the abort PATCH of a Rollout's status; None if not ours."""
        match = _ROLLOUTS_PATH.fullmatch(path)
        if match is None:
            return None
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or credential != self.token:
            return Reply(401, status_object(401, "Unauthorized", "Unauthorized"))
        namespace, plural, name, status = match.groups()
        with self.lock:
            script = self.objects.get((plural, namespace, name))
            if method == "PATCH" and status and plural == "rollouts":
                if self.forbidden_patch:
                    return Reply(
                        403,
                        status_object(
                            403,
                            "Forbidden",
                            f'rollouts.argoproj.io "{name}" is forbidden: User "system:serviceaccount:ci:deployer" '
                            f'cannot patch resource "rollouts/status" in API group "argoproj.io" in the namespace '
                            f'"{namespace}"',
                        ),
                    )
                self.patches.append({"path": path, "body": json.loads(body)})
                if script:  # from now on the Rollout is aborted, as the controller would show it
                    aborted = json.loads(json.dumps(script[-1]))
                    aborted["status"]["abort"] = True
                    self.objects[(plural, namespace, name)] = [aborted]
                    return Reply(200, aborted)
            if not script or method != "GET" or status:
                return Reply(404, status_object(404, "NotFound", f'{plural}.argoproj.io "{name}" not found'))
            reply = script.pop(0) if len(script) > 1 else script[0]
        return reply if isinstance(reply, Reply) else Reply(200, reply)

    def script(self, *replies: Any, app: str = APP, namespace: str = "argocd") -> None:
        """Serve `replies` (Application dicts or Reply objects) in order to GETs of that Application."""
        self.scripts[(namespace, app)] = list(replies)

    def answer(self, path: str, authorization: str | None) -> Reply:
        match = _APPLICATION_PATH.fullmatch(path)
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or credential != self.token:
            return Reply(401, status_object(401, "Unauthorized", "Unauthorized"))
        if match is None:
            return Reply(404, status_object(404, "NotFound", "the server could not find the requested resource"))
        namespace, name = match.groups()
        if namespace in self.forbidden_namespaces:
            return Reply(
                403,
                status_object(
                    403,
                    "Forbidden",
                    f'applications.argoproj.io "{name}" is forbidden: User "system:serviceaccount:ci:deployer" '
                    f'cannot get resource "applications" in API group "argoproj.io" in the namespace "{namespace}"',
                ),
            )
        with self.lock:
            script = self.scripts.get((namespace, name))
            if not script:
                return Reply(404, status_object(404, "NotFound", f'applications.argoproj.io "{name}" not found'))
            reply = script.pop(0) if len(script) > 1 else script[0]
        return reply if isinstance(reply, Reply) else Reply(200, reply)

    @property
    def application_requests(self) -> list[dict[str, Any]]:
        return [request for request in self.requests if _APPLICATION_PATH.fullmatch(request["path"])]


def _handler(api: FakeKubeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_PATCH(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with api.lock:
                api.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
            reply = api.answer_object(self.command, self.path, self.headers.get("Authorization"), body)
            if reply is None:
                reply = api.answer(self.path, self.headers.get("Authorization"))
            time.sleep(reply.delay)
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.headers.get("Content-Type", "application/json"))
            for name, value in reply.headers.items():
                if name != "Content-Type":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not reply.trickle:
                self.wfile.write(body)
                return
            try:
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler


def _serve(api: FakeKubeApi, tls: ssl.SSLContext | None) -> Iterator[FakeKubeApi]:
    """The fake API on the kit's loopback server (quiet: a client that hung up mid-answer, the gate's deadline
    cutting a trickle, is what some tests are about, not a traceback in the command's captured output)."""
    with LoopbackServer(_handler(api), tls=tls) as server:
        api.url = server.url
        yield api


@pytest.fixture
def kube_api() -> Iterator[FakeKubeApi]:
    """The fake API over plain http on loopback."""
    yield from _serve(FakeKubeApi(), None)


@dataclass(frozen=True)
class Pki:
    """A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, made by openssl."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_cert: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    where = tmp_path_factory.mktemp("pki")
    for ca in ("ca", "other-ca"):
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={ca}",
            "-keyout",
            f"{ca}.key",
            "-out",
            f"{ca}.crt",
            cwd=where,
        )
    (where / "server.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, subject in (("server", "/CN=127.0.0.1"), ("client", "/CN=deployer/O=ci")):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=where,
        )
        extension = ["-extfile", "server.ext"] if name == "server" else []
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            f"{name}.crt",
            *extension,
            cwd=where,
        )
    return Pki(
        where / "ca.crt",
        where / "server.crt",
        where / "server.key",
        where / "client.crt",
        where / "client.key",
        where / "other-ca.crt",
    )


def _tls(pki: Pki, *, client_certificate: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca_cert)
    context.verify_mode = ssl.CERT_REQUIRED if client_certificate else ssl.CERT_NONE
    return context


@pytest.fixture
def tls_kube_api(pki: Pki) -> Iterator[FakeKubeApi]:
    """The fake API over TLS on loopback, requiring a client certificate signed by the test CA."""
    yield from _serve(FakeKubeApi(), _tls(pki, client_certificate=True))


@pytest.fixture
def tls_token_kube_api(pki: Pki) -> Iterator[FakeKubeApi]:
    """The fake API over TLS on loopback, authenticating by bearer token alone (as for a service account)."""
    yield from _serve(FakeKubeApi(), _tls(pki, client_certificate=False))


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture
def write_kubeconfig(tmp_path: Path) -> Callable[..., Path]:
    """Write a kubeconfig with one context `test` (current) for `server`; `user`/`cluster` add fields."""

    def write(
        server: str,
        *,
        user: dict[str, Any] | None = None,
        cluster: dict[str, Any] | None = None,
        name: str = "kubeconfig",
        context: str = "test",
    ) -> Path:
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": f"{context}-cluster", "cluster": {"server": server, **(cluster or {})}}],
            "users": [{"name": f"{context}-user", "user": {"token": TOKEN} if user is None else user}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": f"{context}-cluster", "user": f"{context}-user", "namespace": "default"},
                }
            ],
        }
        path = tmp_path / name
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write


def make_application(
    *,
    sync: str | None = "Synced",
    health: str | None = "Healthy",
    pinned: str | None = NEW_DIGEST,
    compared: str | None = None,
    running: tuple[str, ...] = (),
    phase: str | None = "Succeeded",
    operation_message: str | None = None,
    synced_digest: str | None = None,
    health_message: str | None = None,
    conditions: tuple[tuple[str, str], ...] = (),
    resources: tuple[tuple[str, str, str, str | None], ...] = (),
    name: str = APP,
) -> dict[str, Any]:
    """An Argo CD Application of the CRD's shape; digests go into kustomize images as `repo@digest`."""

    def source(digest: str | None) -> dict[str, Any]:
        kustomize = {"images": [f"{REPOSITORY}@{digest}"]} if digest else {}
        return {
            "repoURL": "https://github.com/percolation-labs/percolate",
            "path": "deploy/percolate",
            "targetRevision": "main",
            "kustomize": kustomize,
        }

    status: dict[str, Any] = {
        "sync": {
            "status": sync,
            "comparedTo": {
                "source": source(compared),
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "percolate"},
            },
            "revision": "a" * 40,
        },
        "health": {"status": health, **({"message": health_message} if health_message else {})},
        "summary": {"images": [f"{REPOSITORY}@{digest}" for digest in running]},
        "conditions": [
            {"type": kind, "message": message, "lastTransitionTime": "2025-10-25T14:31:00Z"}
            for kind, message in conditions
        ],
        "resources": [
            {
                "group": "apps",
                "version": "v1",
                "kind": kind,
                "namespace": "percolate",
                "name": res_name,
                "status": "Synced",
                "health": {"status": res_health, **({"message": res_message} if res_message else {})},
            }
            for kind, res_name, res_health, res_message in resources
        ],
        "reconciledAt": "2025-10-25T14:31:00Z",
        "sourceType": "Kustomize",
    }
    if phase is not None:
        status["operationState"] = {
            "phase": phase,
            "message": operation_message or ("successfully synced (all tasks run)" if phase == "Succeeded" else ""),
            "startedAt": "2025-10-25T14:30:10Z",
            "operation": {"sync": {"revision": "a" * 40}, "initiatedBy": {"automated": True}},
            "syncResult": {"revision": "a" * 40, "source": source(synced_digest or compared)},
        }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "1234"},
        "spec": {
            "project": "default",
            "source": source(pinned),
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "percolate"},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
        },
        "status": status,
    }


@pytest.fixture
def application() -> Callable[..., dict[str, Any]]:
    return make_application


@pytest.fixture
def names() -> SimpleNamespace:
    """The constants the fixtures use, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(app=APP, token=TOKEN, new=NEW_DIGEST, old=OLD_DIGEST, repository=REPOSITORY)


@dataclass
class Gate:
    """Runs `wait-healthy` as a subprocess against a fake API through a kubeconfig pointing at it."""

    api: FakeKubeApi
    kubeconfig: Path
    cli: Callable[..., Any]

    def run(
        self,
        *extra: str,
        app: str = APP,
        digest: str = NEW_DIGEST,
        timeout: str = "20",
        interval: str = "0.02",
        env: dict[str, str] | None = None,
    ) -> Any:
        return self.cli(
            "wait-healthy",
            app,
            "--digest",
            digest,
            "--kubeconfig",
            str(self.kubeconfig),
            "--interval",
            interval,
            "--timeout",
            timeout,
            *extra,
            env=env,
        )


class FastForward:
    """A clock on which a sleep takes no time but still counts: it moves the clock on by the time slept, while real
    time passes under it as well (a request that hangs still meets its deadline). A gate run in-process on it
    covers a 60-second timeout at once, and how many reads fit in the timeout does not depend on the machine."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.skipped += max(seconds, 0.0)


@pytest.fixture
def gate(kube_api: FakeKubeApi, write_kubeconfig: Callable[..., Path], cli: Callable[..., Any]) -> Iterator[Gate]:
    """The gate against the fake API; run in-process (the `cli` fixture), its waits run on a FastForward clock."""
    fast = FastForward()
    with clock.using(clock.Clock(fast.monotonic, fast.sleep)):
        yield Gate(kube_api, write_kubeconfig(kube_api.url), cli)


@pytest.fixture
def reply() -> Callable[..., Reply]:
    """Build a scripted non-Application answer: reply(503, body, headers, delay=seconds)."""
    return Reply


@pytest.fixture(name="b64")
def b64_fixture() -> Callable[[Path], str]:
    return b64


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    return loopback.free_port()
