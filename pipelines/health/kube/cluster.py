"""The health gate's edge to the Kubernetes API: Argo CD Applications and Argo Rollouts objects.

Credentials come from pipelines.health.kube.access (kubeconfig or service account, loaded by
`kubernetes.config`); requests go through the client's `CustomObjectsApi`, with urllib3's own
retries off so that pipelines.edges.retry decides alone: connection errors, timeouts, 429
and 5xx are retried with backoff (429 after its Retry-After) until the gate's deadline, and
every request's timeout is cut to the time left. 401, 403 and 404 are not retried; they
become errors that say what to fix. The gate needs `get` on its Application; for a canary also
`get` on rollouts and analysisruns, and `patch` on rollouts/status (the abort, the one write).
"""

from __future__ import annotations

import http.client
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from pipelines.core.errors import Corrupt, InputError, NotFound, Unauthorized
from pipelines.core.json_text import load_json
from pipelines.edges.http_rules import shorten
from pipelines.edges.retry import RETRYABLE_STATUS, Retrier, Retry, parse_retry_after
from pipelines.health.kube.access import SERVICE_ACCOUNT_DIR, Access, load_access

ARGOCD_GROUP = "argoproj.io"
ARGOCD_VERSION = "v1alpha1"
CRD_GROUP = "apiextensions.k8s.io"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# The floor of a request's timeout when the deadline is (nearly) spent: the client refuses 0.
MIN_TIMEOUT = 0.01
# An Application object is tens of kilobytes; a server sending more is not the API server meant.
MAX_ANSWER_BYTES = 4 << 20
ABORT_PATCH = {"status": {"abort": True}}


@dataclass(frozen=True)
class _Kind:
    """A resource the gate touches: its plural in the URL, its kind in the answer, and the right it needs."""

    plural: str
    kind: str
    label: str
    verb: str = "get"
    subresource: str | None = None  # e.g. rollouts/status
    group: str = ARGOCD_GROUP

    @property
    def action(self) -> str:
        return "read" if self.verb == "get" else self.verb

    @property
    def resource(self) -> str:
        return self.subresource or self.plural


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
        return self._object(_Kind("applications", "Application", "Argo CD Application"), namespace, name)

    def get_rollout(self, namespace: str, name: str) -> dict[str, Any]:
        """The Argo Rollouts Rollout `name` in `namespace`."""
        return self._object(_Kind("rollouts", "Rollout", "Rollout"), namespace, name)

    def get_analysis_run(self, namespace: str, name: str) -> dict[str, Any]:
        """The Argo Rollouts AnalysisRun `name` in `namespace`."""
        return self._object(_Kind("analysisruns", "AnalysisRun", "AnalysisRun"), namespace, name)

    def abort_rollout(self, namespace: str, name: str, retrier: Retrier) -> dict[str, Any]:
        """Abort the Rollout: merge patch {"status":{"abort":true}} on its status subresource (what
        `kubectl argo rollouts abort` sends). Idempotent, so retried like a read, within `retrier`'s deadline."""
        kind = _Kind("rollouts", "Rollout", "Rollout", verb="patch", subresource="rollouts/status")
        where = f"Rollout {name!r} in namespace {namespace!r}"

        def send(timeout: tuple[float, float]) -> Any:
            return self._api.patch_namespaced_custom_object_status(
                ARGOCD_GROUP,
                ARGOCD_VERSION,
                namespace,
                "rollouts",
                name,
                ABORT_PATCH,
                _content_type="application/merge-patch+json",
                _request_timeout=timeout,
                _preload_content=False,
            )

        return retrier.run(
            lambda: self._read(send, kind, namespace, where, retrier),
            f"the Kubernetes API at {self.server}",
            hint=f"abort by hand: kubectl argo rollouts abort {name} -n {namespace}",
        )

    def get_crd(self, name: str) -> dict[str, Any]:
        """The CustomResourceDefinition `name` (e.g. applications.argoproj.io), cluster-wide, from the apiextensions
        API (`GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}`): preflight asks whether Argo CD's
        and Argo Rollouts' kinds are installed."""
        from kubernetes.client import ApiextensionsV1Api

        api = ApiextensionsV1Api(self.access.api_client)
        kind = _Kind(
            "customresourcedefinitions", "CustomResourceDefinition", "CustomResourceDefinition", group=CRD_GROUP
        )

        def send(timeout: tuple[float, float]) -> Any:
            return api.read_custom_resource_definition(name, _request_timeout=timeout, _preload_content=False)

        return self._retrier.run(
            lambda: self._read(send, kind, None, f"CustomResourceDefinition {name!r}", self._retrier),
            f"the Kubernetes API at {self.server}",
            hint=f"check that the server of {self.origin} is up and reachable from here",
        )

    def _object(self, kind: _Kind, namespace: str, name: str) -> dict[str, Any]:
        where = f"{kind.label} {name!r} in namespace {namespace!r}"

        def send(timeout: tuple[float, float]) -> Any:
            # With _preload_content=False the client returns urllib3's response (typed `object` by the client).
            return self._api.get_namespaced_custom_object(
                ARGOCD_GROUP,
                ARGOCD_VERSION,
                namespace,
                kind.plural,
                name,
                _request_timeout=timeout,
                _preload_content=False,  # we read the body: the client would guess its type from Content-Type
            )

        return self._retrier.run(
            lambda: self._read(send, kind, namespace, where, self._retrier),
            f"the Kubernetes API at {self.server}",
            hint=f"check that the server of {self.origin} is up and reachable from here",
        )

    def _read(
        self,
        send: Callable[[tuple[float, float]], Any],
        kind: _Kind,
        namespace: str | None,
        where: str,
        retrier: Retrier,
    ) -> dict[str, Any] | Retry:
        left = max(retrier.deadline.remaining(), MIN_TIMEOUT)
        try:
            with total_deadline(left):
                return self._exchange(send, kind, namespace, where, left)
        except TimeoutError:  # the alarm rang between two reads of the client: no whole answer in time
            return Retry("no whole answer within the time limit")

    def _exchange(
        self, send: Callable[[tuple[float, float]], Any], kind: _Kind, namespace: str | None, where: str, left: float
    ) -> dict[str, Any] | Retry:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        try:
            response: Any = send((min(CONNECT_TIMEOUT, left), min(READ_TIMEOUT, left)))
            try:
                body = response.read(MAX_ANSWER_BYTES + 1)
            finally:
                response.release_conn()
        except ApiException as error:
            return self._refused(error, kind, namespace, where)
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
        return self._document(body, kind.kind, where)

    def _refused(self, error: Any, kind: _Kind, namespace: str | None, where: str) -> Retry:
        """An answer that is not 2xx: retry it, or raise the error that says what to fix."""
        status, message = error.status or 0, _status_message(error)
        if status == 0:  # the client reports urllib3's SSLError as an ApiException without a status
            raise Unauthorized(
                f"TLS with {self.server} failed: {message}",
                hint=f"check the certificate-authority and client certificate of {self.origin}",
            )
        if status == 401:
            raise Unauthorized(
                f"unauthorized to {kind.action} {where} ({message})",
                hint=f"the credentials of {self.origin} were rejected: refresh the token or kubeconfig",
            )
        if status == 403:
            # A cluster-wide kind (a CRD) is granted by a ClusterRole; a namespaced one by a Role there.
            scope = f"in namespace {namespace} (a Role and RoleBinding)" if namespace else "(a ClusterRole and binding)"
            raise Unauthorized(
                f"forbidden to {kind.action} {where} ({message})",
                hint=f"grant the identity `{kind.verb}` on {kind.resource} ({kind.group}) {scope}; "
                f"check with `kubectl auth can-i {kind.verb} {kind.plural}.{kind.group}"
                + (f" --subresource={kind.subresource.split('/')[1]}" if kind.subresource else "")
                + (f" -n {namespace}`" if namespace else "`"),
            )
        if status == 404:
            raise NotFound(
                f"not found: {where} ({message})",
                hint=(
                    "check the application name and --namespace (where Argo CD keeps its Applications), and that "
                    if kind.kind == "Application"
                    else f"check that the manifests hold the {kind.label} (docs/canary.md) and "
                )
                + f"that {self.origin} points at the cluster running Argo CD",
            )
        if status in RETRYABLE_STATUS:
            headers: Mapping[str, str] = error.headers or {}
            retry_after = parse_retry_after(headers.get("Retry-After"), datetime.now(UTC))
            return Retry(f"answered HTTP {status}: {message}", retry_after)
        # Redirects are not followed (the token would go along), nor is any other status expected here.
        raise Corrupt(
            f"{kind.action}ing {where} failed: {self.server} answered HTTP {status}: {message}",
            hint=f"check the server URL of {self.origin}",
        )

    def _document(self, body: bytes, expected: str, where: str) -> dict[str, Any]:
        try:
            document = load_json(body)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise Corrupt(
                f"{self.server} answered with something other than a JSON object for the {where}",
                hint=f"check the server URL of {self.origin}",
            )
        if document.get("kind") != expected:
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
        return shorten(str(document["message"]))
    text = body.strip()
    if text:
        return shorten(text.splitlines()[0])  # the credential is redacted before the cut
    # The client puts "SSLError\n<details>" in the reason of a TLS failure.
    return ": ".join(str(error.reason or "no message").splitlines())
