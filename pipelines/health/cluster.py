"""The health gate's edge to the Kubernetes API: one GET of an Argo CD Application, through the official client.

Credentials come from pipelines.health.access (kubeconfig or service account, loaded by
`kubernetes.config`); requests go through the client's `CustomObjectsApi`, with urllib3's own
retries off so that pipelines.edges.retry decides alone: connection errors, timeouts, 429
and 5xx are retried with backoff (429 after its Retry-After) until the gate's deadline, and
every request's timeout is cut to the time left. 401, 403 and 404 are not retried; they
become errors that say what to fix. Only reads: the gate needs `get` on one Application.
"""

from __future__ import annotations

import http.client
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from pipelines.core.errors import Corrupt, InputError, NotFound, Unauthorized
from pipelines.core.json_text import load_json
from pipelines.edges.http_parts import redact
from pipelines.edges.retry import RETRYABLE_STATUS, Retrier, Retry, parse_retry_after
from pipelines.health.access import SERVICE_ACCOUNT_DIR, Access, load_access

ARGOCD_GROUP = "argoproj.io"
ARGOCD_VERSION = "v1alpha1"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# The floor of a request's timeout when the deadline is (nearly) spent: the client refuses 0.
MIN_TIMEOUT = 0.01
# An Application object is tens of kilobytes; a server sending more is not the API server meant.
MAX_ANSWER_BYTES = 4 << 20


@contextmanager
def total_deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread once `seconds` have passed, whatever the socket is doing.

    urllib3's read timeout applies to each socket read: a server sending a byte every few seconds
    would stretch a request forever. A real-time timer (SIGALRM) interrupts the read that is waiting
    when the time is up. Only the main thread receives signals; elsewhere the per-read timeouts alone hold.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ring(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError("deadline")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, MIN_TIMEOUT))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Cluster:
    """One API server, read through the official client; `close()` removes the key material it wrote."""

    def __init__(self, access: Access, retrier: Retrier) -> None:
        from kubernetes.client import CustomObjectsApi

        self.access = access
        self._retrier = retrier
        self._api = CustomObjectsApi(access.api_client)

    @property
    def server(self) -> str:
        return self.access.server

    @property
    def origin(self) -> str:
        return self.access.origin

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.access.close()

    def get_application(self, namespace: str, name: str) -> dict[str, Any]:
        """The Argo CD Application `name` in `namespace`, retrying transient failures until the deadline."""
        where = f"Argo CD Application {name!r} in namespace {namespace!r}"
        return self._retrier.run(
            lambda: self._read(namespace, name, where),
            f"the Kubernetes API at {self.server}",
            hint=f"check that the server of {self.origin} is up and reachable from here",
        )

    def _read(self, namespace: str, name: str, where: str) -> dict[str, Any] | Retry:
        left = max(self._retrier.deadline.remaining(), MIN_TIMEOUT)
        try:
            with total_deadline(left):
                return self._exchange(namespace, name, where, left)
        except TimeoutError:  # the alarm rang between two reads of the client: no whole answer in time
            return Retry("no whole answer within the time limit")

    def _exchange(self, namespace: str, name: str, where: str, left: float) -> dict[str, Any] | Retry:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            # With _preload_content=False the client returns urllib3's response (typed `object` by the client).
            response: Any = self._api.get_namespaced_custom_object(
                ARGOCD_GROUP,
                ARGOCD_VERSION,
                namespace,
                "applications",
                name,
                _request_timeout=(min(CONNECT_TIMEOUT, left), min(READ_TIMEOUT, left)),
                _preload_content=False,  # we read the body: the client would guess its type from Content-Type
            )
            try:
                body = response.read(MAX_ANSWER_BYTES + 1)
            finally:
                response.release_conn()
        except ApiException as error:
            return self._refused(error, namespace, where)
        except urllib3.exceptions.NewConnectionError as error:  # a subclass of urllib3's TimeoutError
            return Retry(f"unreachable ({_reason(error)})")
        except urllib3.exceptions.TimeoutError as error:  # its own words carry the timeout in force
            return Retry(f"no answer in time ({type(error).__name__}: {error})")
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
            return Retry(f"unreachable ({_reason(error)})")
        except ValueError:  # http.client refuses the credential as a header value; its words quote the header
            raise InputError(
                f"the credentials of {self.origin} cannot be sent: a header value holds a line break or control "
                "character",
                hint="check the token in the kubeconfig",
            ) from None
        if len(body) > MAX_ANSWER_BYTES:
            raise Corrupt(
                f"{self.server} answered with more than {MAX_ANSWER_BYTES} bytes for the {where}",
                hint=f"check the server URL of {self.origin}",
            )
        return self._application(body, where)

    def _refused(self, error: Any, namespace: str, where: str) -> Retry:
        """An answer that is not 2xx: retry it, or raise the error that says what to fix."""
        status, message = error.status or 0, self._redact(_status_message(error))
        if status == 0:  # the client reports urllib3's SSLError as an ApiException without a status
            raise Unauthorized(
                f"TLS with {self.server} failed: {message}",
                hint=f"check the certificate-authority and client certificate of {self.origin}",
            )
        if status == 401:
            raise Unauthorized(
                f"unauthorized to read {where} ({message})",
                hint=f"the credentials of {self.origin} were rejected: refresh the token or kubeconfig",
            )
        if status == 403:
            raise Unauthorized(
                f"forbidden to read {where} ({message})",
                hint=f"grant the identity `get` on applications.{ARGOCD_GROUP} in namespace {namespace} (a Role and "
                f"RoleBinding); check with `kubectl auth can-i get applications.{ARGOCD_GROUP} -n {namespace}`",
            )
        if status == 404:
            raise NotFound(
                f"not found: {where} ({message})",
                hint="check the application name and --namespace (where Argo CD keeps its Applications), and that "
                f"{self.origin} points at the cluster running Argo CD",
            )
        if status in RETRYABLE_STATUS:
            headers: Mapping[str, str] = error.headers or {}
            retry_after = parse_retry_after(headers.get("Retry-After"), datetime.now(UTC))
            return Retry(f"answered HTTP {status}: {message}", retry_after)
        # Redirects are not followed (the token would go along), nor is any other status expected here.
        raise Corrupt(
            f"reading {where} failed: {self.server} answered HTTP {status}: {message}",
            hint=f"check the server URL of {self.origin}",
        )

    def _redact(self, text: str) -> str:
        """`text` without the credential we sent: a server may echo it in its message."""
        token = self.access.api_client.configuration.api_key.get("BearerToken")
        if isinstance(token, str):
            token = token.removeprefix("Bearer ").strip()  # the client keeps the scheme in front
        return redact(text, [token]) if isinstance(token, str) else text

    def _application(self, body: bytes, where: str) -> dict[str, Any]:
        try:
            document = load_json(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise Corrupt(
                f"{self.server} answered with something other than a JSON object for the {where}",
                hint=f"check the server URL of {self.origin}",
            )
        if document.get("kind") != "Application":
            raise Corrupt(
                f"{self.server} answered with a {document.get('kind') or 'kindless'} object, not the {where}",
                hint=f"check the server URL of {self.origin}",
            )
        return document


def import_client() -> None:
    """Import the official client (about half a second), e.g. before a deadline starts that is meant for the cluster."""
    import kubernetes.client
    import kubernetes.config  # noqa: F401


def open_cluster(
    kubeconfig: Path | None,
    context: str | None,
    retrier: Retrier,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Cluster:
    """The cluster kubectl would use for these arguments; exec plugins and requests end by the retrier's deadline."""
    access = load_access(
        kubeconfig, context, retrier.deadline, environ=environ, home=home, service_account_dir=service_account_dir
    )
    try:
        return Cluster(access, retrier)
    except BaseException:
        access.close()
        raise


def _reason(error: BaseException) -> str:
    """The innermost cause of a connection error, without urllib3's pool and object addresses."""
    cause = error
    seen = {id(cause)}
    while (inner := cause.__cause__ or cause.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        cause = inner
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _status_message(error: Any) -> str:
    """The `message` of the Kubernetes Status object in an error reply, else the start of the body, else the reason."""
    body = error.body or ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        document = load_json(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("message"), str) and document["message"]:
        return str(document["message"])
    text = body.strip()
    if text:
        return text.splitlines()[0][:200]
    # The client puts "SSLError\n<details>" in the reason of a TLS failure.
    return ": ".join(str(error.reason or "no message").splitlines())
