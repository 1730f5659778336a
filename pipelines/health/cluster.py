"""Thin access to the Kubernetes API: where the credentials come from, and a GET of one object.

Credentials are found the way kubectl finds them: `--kubeconfig FILE`, else the files
listed in $KUBECONFIG (merged, the first definition of a name wins), else
~/.kube/config; the current context or `--context`. Without any kubeconfig, inside a
pod (KUBERNETES_SERVICE_HOST set), the pod's service account is used. Supported
credentials: CA file or data, client certificate and key (files or data), a bearer
token or token file, and exec credential plugins (`aws eks get-token` and the like).

Only reads: the health gate needs `get` on one Application and nothing else. Every
request has a timeout; connection errors, 5xx and 429 are retried until the caller's
deadline. Plain http is accepted for loopback servers only, and certificate checks
are never skipped, because the token would go to whoever answers.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.core.errors import CheckFailed, InputError
from pipelines.edges.urls import parse_retry_after, require_secure_url
from pipelines.output import progress

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# A request always gets at least this long, even when the caller's deadline is (nearly) spent.
MIN_REQUEST_BUDGET = 1.0
MAX_BACKOFF = 10.0
EXEC_TIMEOUT = 60.0
ARGOCD_GROUP = "argoproj.io"
ARGOCD_VERSION = "v1alpha1"
EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
_KUBECONFIG_HINT = "pass --kubeconfig FILE, set KUBECONFIG, or run inside the cluster with a service account"


@dataclass(frozen=True)
class ExecPlugin:
    """A kubeconfig `user.exec` entry: a command printing an ExecCredential."""

    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    api_version: str
    cwd: Path
    install_hint: str | None = None


@dataclass(frozen=True)
class ClusterAccess:
    """Where the API server is and how to authenticate to it; secrets are kept out of repr."""

    server: str
    origin: str  # for messages: "context X of FILE" or "the pod's service account"
    context: str | None = None
    ca_file: Path | None = None
    ca_data: bytes | None = field(default=None, repr=False)
    client_cert_file: Path | None = None
    client_cert_data: bytes | None = field(default=None, repr=False)
    client_key_file: Path | None = None
    client_key_data: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    exec_plugin: ExecPlugin | None = None


class ApiError(CheckFailed):
    """The API server answered a request with an error that retrying will not fix."""

    def __init__(self, status_code: int, server_message: str, *, hint: str | None = None) -> None:
        super().__init__(f"HTTP {status_code}: {server_message}", hint=hint)
        self.status_code = status_code
        self.server_message = server_message


class ApiUnavailable(CheckFailed):
    """The API server stayed unreachable (or kept answering 5xx/429) until the deadline."""


def load_access(
    kubeconfig: Path | None = None,
    context: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> ClusterAccess:
    """The cluster access kubectl would use for these arguments and environment."""
    environ = os.environ if environ is None else environ
    files = _kubeconfig_files(kubeconfig, environ, home or Path.home())
    if files:
        return _from_kubeconfig(files, context)
    if environ.get("KUBERNETES_SERVICE_HOST"):
        if context:
            raise InputError(f"--context {context} given but no kubeconfig was found", hint=_KUBECONFIG_HINT)
        return _in_cluster(environ, service_account_dir)
    raise InputError(
        "no kubeconfig found (~/.kube/config does not exist, KUBECONFIG is not set)", hint=_KUBECONFIG_HINT
    )


def _kubeconfig_files(explicit: Path | None, environ: Mapping[str, str], home: Path) -> list[Path]:
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"kubeconfig {explicit} does not exist", hint="pass the path of a kubeconfig file")
        return [explicit]
    listed = [Path(part) for part in environ.get("KUBECONFIG", "").split(os.pathsep) if part]
    if listed:
        existing = [path for path in listed if path.is_file()]
        if not existing:
            raise InputError(
                f"KUBECONFIG names no existing file: {os.pathsep.join(map(str, listed))}",
                hint="point KUBECONFIG at your kubeconfig file, or unset it",
            )
        return existing
    default = home / ".kube" / "config"
    return [default] if default.is_file() else []


@dataclass(frozen=True)
class _Named:
    """A cluster, user or context body, with the kubeconfig it came from (relative paths resolve there)."""

    body: Mapping[str, Any]
    source: Path


def _read_kubeconfig(path: Path) -> Mapping[str, Any]:
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(
            f"cannot read kubeconfig {path}: {error.strerror}", hint="check the file's permissions"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise InputError(
            f"kubeconfig {path}{where}: {problem}", hint="fix the YAML, e.g. with `kubectl config view`"
        ) from None
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise InputError(
            f"kubeconfig {path} is not a YAML mapping", hint="a kubeconfig has clusters, users and contexts"
        )
    return document


def _from_kubeconfig(files: list[Path], context: str | None) -> ClusterAccess:
    sections: dict[str, dict[str, _Named]] = {"clusters": {}, "users": {}, "contexts": {}}
    current: str | None = None
    for path in files:
        document = _read_kubeconfig(path)
        current = current or _string(document.get("current-context"))
        for section, entries in sections.items():
            listed = document.get(section) or []
            if not isinstance(listed, list):
                raise InputError(f"kubeconfig {path}: {section} is not a list", hint="fix the kubeconfig")
            for item in listed:
                name = item.get("name") if isinstance(item, Mapping) else None
                body = item.get(section[:-1]) if isinstance(item, Mapping) else None
                if not isinstance(name, str) or not isinstance(body, (Mapping, type(None))):
                    raise InputError(
                        f"kubeconfig {path}: an entry of {section} has no name or a malformed body",
                        hint="fix the kubeconfig",
                    )
                entries.setdefault(name, _Named(body or {}, path))

    chosen = context or current
    if not chosen:
        raise InputError(
            "the kubeconfig has no current-context", hint="pass --context NAME or run `kubectl config use-context NAME`"
        )
    if chosen not in sections["contexts"]:
        known = ", ".join(sorted(sections["contexts"])) or "none"
        raise InputError(f"context {chosen!r} is not in the kubeconfig", hint=f"known contexts: {known}")
    ctx = sections["contexts"][chosen]
    origin = f"context {chosen} of {ctx.source}"
    cluster_name, user_name = _string(ctx.body.get("cluster")), _string(ctx.body.get("user"))
    if cluster_name is None or cluster_name not in sections["clusters"]:
        raise InputError(
            f"{origin} names cluster {cluster_name!r}, which the kubeconfig does not define", hint="fix the kubeconfig"
        )
    if user_name is not None and user_name not in sections["users"]:
        raise InputError(
            f"{origin} names user {user_name!r}, which the kubeconfig does not define", hint="fix the kubeconfig"
        )
    cluster = sections["clusters"][cluster_name]
    user = sections["users"][user_name] if user_name else _Named({}, ctx.source)
    return ClusterAccess(
        server=_server(cluster, origin),
        origin=origin,
        context=chosen,
        ca_file=_path(cluster, "certificate-authority"),
        ca_data=_data(cluster, "certificate-authority-data", origin),
        **_user_credentials(user, origin),
    )


def _server(cluster: _Named, origin: str) -> str:
    server = _string(cluster.body.get("server"))
    if server is None:
        raise InputError(
            f"the cluster of {origin} has no server URL", hint="add cluster.server, e.g. https://host:6443"
        )
    if cluster.body.get("insecure-skip-tls-verify"):
        raise InputError(
            f"the cluster of {origin} sets insecure-skip-tls-verify",
            hint="the gate sends credentials, so it verifies the server: give certificate-authority(-data) instead",
        )
    require_secure_url(server, f"{origin}: server", "https://HOST[:PORT]")
    return server.rstrip("/")


def _user_credentials(user: _Named, origin: str) -> dict[str, Any]:
    unsupported = [key for key in ("auth-provider", "username", "password") if user.body.get(key)]
    if unsupported:
        raise InputError(
            f"the user of {origin} authenticates with {', '.join(unsupported)}, which the gate does not support",
            hint="use a bearer token, a client certificate or an exec plugin (e.g. kubelogin)",
        )
    credentials: dict[str, Any] = {
        "client_cert_file": _path(user, "client-certificate"),
        "client_cert_data": _data(user, "client-certificate-data", origin),
        "client_key_file": _path(user, "client-key"),
        "client_key_data": _data(user, "client-key-data", origin),
        "token": _string(user.body.get("token")),
        "token_file": _path(user, "tokenFile"),
        "exec_plugin": _exec_plugin(user, origin),
    }
    has_cert = credentials["client_cert_file"] or credentials["client_cert_data"]
    has_key = credentials["client_key_file"] or credentials["client_key_data"]
    if bool(has_cert) != bool(has_key):
        raise InputError(
            f"the user of {origin} has a client {'certificate' if has_cert else 'key'} without its "
            f"{'key' if has_cert else 'certificate'}",
            hint="give both client-certificate(-data) and client-key(-data), or neither",
        )
    return credentials


def _exec_plugin(user: _Named, origin: str) -> ExecPlugin | None:
    spec = user.body.get("exec")
    if spec is None:
        return None
    command = _string(spec.get("command")) if isinstance(spec, Mapping) else None
    if command is None:
        raise InputError(f"the exec plugin of {origin} has no command", hint="fix user.exec.command in the kubeconfig")
    api_version = _string(spec.get("apiVersion")) or EXEC_API_VERSIONS[0]
    if api_version not in EXEC_API_VERSIONS:
        raise InputError(
            f"the exec plugin of {origin} speaks {api_version}", hint=f"supported: {', '.join(EXEC_API_VERSIONS)}"
        )
    env_items, args = spec.get("env") or [], spec.get("args") or []
    if not isinstance(env_items, list) or not isinstance(args, list):
        raise InputError(
            f"the exec plugin of {origin} has malformed args or env", hint="both are lists in a kubeconfig"
        )
    env = tuple(
        (str(item.get("name")), str(item.get("value", "")))
        for item in env_items
        if isinstance(item, Mapping) and item.get("name")
    )
    # A command given as a relative path is relative to the kubeconfig; a bare name is looked up on PATH.
    if os.sep in command and not Path(command).is_absolute():
        command = str(user.source.parent / command)
    return ExecPlugin(
        command=command,
        args=tuple(str(arg) for arg in args),
        env=env,
        api_version=api_version,
        cwd=user.source.parent,
        install_hint=_string(spec.get("installHint")),
    )


def _in_cluster(environ: Mapping[str, str], service_account_dir: Path) -> ClusterAccess:
    host = environ["KUBERNETES_SERVICE_HOST"]
    port = environ.get("KUBERNETES_SERVICE_PORT", "443")
    token_file, ca_file = service_account_dir / "token", service_account_dir / "ca.crt"
    if not token_file.is_file():
        raise InputError(
            f"KUBERNETES_SERVICE_HOST is set but {token_file} does not exist",
            hint="mount a service account token into the pod (automountServiceAccountToken), or pass --kubeconfig",
        )
    bracketed = f"[{host}]" if ":" in host else host
    return ClusterAccess(
        server=f"https://{bracketed}:{port}",
        origin="the pod's service account",
        ca_file=ca_file if ca_file.is_file() else None,
        token_file=token_file,
    )


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _path(named: _Named, key: str) -> Path | None:
    value = _string(named.body.get(key))
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else named.source.parent / path


def _data(named: _Named, key: str, origin: str) -> bytes | None:
    value = _string(named.body.get(key))
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(
            f"{key} of {origin} is not valid base64", hint="re-export it, e.g. `base64 -w0 < ca.crt`"
        ) from None


class KubeClient:
    """An HTTPS session to one API server that reads objects, retrying transient failures until a deadline."""

    def __init__(self, access: ClusterAccess, *, first_backoff: float = 0.5) -> None:
        import requests

        self.access = access
        self._first_backoff = first_backoff
        self._secrets = tempfile.TemporaryDirectory(prefix="pipelines-kube-")
        self._session = requests.Session()
        self._session.headers.update({"Accept": "application/json", "User-Agent": "percolate-pipelines"})
        ca = self._material("ca.crt", access.ca_data, access.ca_file)
        # Passed on every request: a session-level value would lose to $REQUESTS_CA_BUNDLE.
        self._verify: str | bool = str(ca) if ca else True
        self._use_client_certificate(
            self._material("client.crt", access.client_cert_data, access.client_cert_file),
            self._material("client.key", access.client_key_data, access.client_key_file),
        )
        self._exec_token: str | None = None
        self._exec_expiry: datetime | None = None
        self._exec_ran = False

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()
        self._secrets.cleanup()

    def _secret_file(self, name: str, data: bytes) -> Path:
        """Write key material where requests can load it: a private temp folder, mode 0600, gone on close."""
        path = Path(self._secrets.name) / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        return path

    def _material(self, name: str, data: bytes | None, file: Path | None) -> Path | None:
        """The file holding a CA, certificate or key; `-data` wins over the file, as in kubectl."""
        return self._secret_file(name, data) if data else file

    def _use_client_certificate(self, cert: Path | None, key: Path | None) -> None:
        if cert and key:
            self._session.cert = (str(cert), str(key))

    def _bearer_token(self) -> str | None:
        # Token files are re-read on every request: projected service-account tokens rotate.
        if self.access.token_file is not None:
            try:
                return self.access.token_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise InputError(
                    f"cannot read token file {self.access.token_file}: {error.strerror}",
                    hint="check the path in the kubeconfig",
                ) from None
        if self.access.token:
            return self.access.token
        if self.access.exec_plugin is not None:
            expired = self._exec_expiry is not None and datetime.now(UTC) >= self._exec_expiry
            if not self._exec_ran or expired:
                self._run_exec_plugin(self.access.exec_plugin)
            return self._exec_token
        return None

    def _run_exec_plugin(self, plugin: ExecPlugin) -> None:
        info = {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(info)}
        described = f"exec plugin {plugin.command!r} of {self.access.origin}"
        try:
            result = subprocess.run(
                [plugin.command, *plugin.args],
                env=env,
                cwd=plugin.cwd,
                capture_output=True,
                text=True,
                timeout=EXEC_TIMEOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            raise InputError(
                f"{described} is not installed", hint=plugin.install_hint or "install it, or use a token"
            ) from None
        except subprocess.TimeoutExpired:
            raise CheckFailed(
                f"{described} did not finish within {EXEC_TIMEOUT:.0f}s", hint="run it by hand to see why"
            ) from None
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise CheckFailed(
                f"{described} failed (exit {result.returncode}): {last}", hint="run it by hand to see why"
            )
        try:
            status = json.loads(result.stdout)["status"]
        except (ValueError, KeyError, TypeError):
            status = None
        if not isinstance(status, Mapping):
            raise CheckFailed(f"{described} printed no ExecCredential with a status", hint="check the plugin's version")
        self._exec_ran = True
        self._exec_token = _string(status.get("token"))
        self._exec_expiry = _timestamp(status.get("expirationTimestamp"))
        cert, key = _string(status.get("clientCertificateData")), _string(status.get("clientKeyData"))
        if cert and key:
            self._use_client_certificate(
                self._secret_file("exec.crt", cert.encode()), self._secret_file("exec.key", key.encode())
            )
        elif self._exec_token is None:
            raise CheckFailed(
                f"{described} returned neither a token nor a client certificate", hint="check the plugin's version"
            )

    def get_json(self, path: str, deadline: float) -> dict[str, Any]:
        """GET `path` as a JSON object; transient failures are retried until `deadline` (time.monotonic)."""
        import requests

        url = self.access.server + path
        backoff = self._first_backoff
        while True:
            budget = max(deadline - time.monotonic(), MIN_REQUEST_BUDGET)
            headers = {}
            token = self._bearer_token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
            retry_after: float | None = None
            try:
                response = self._session.get(
                    url,
                    headers=headers,
                    verify=self._verify,
                    timeout=(min(CONNECT_TIMEOUT, budget), min(READ_TIMEOUT, budget)),
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as error:
                raise CheckFailed(
                    f"TLS with {self.access.server} failed: {_reason(error)}",
                    hint=f"check the certificate-authority and client certificate of {self.access.origin}",
                ) from None
            except (requests.ConnectionError, requests.Timeout) as error:
                problem = f"cannot reach {self.access.server}: {_reason(error)}"
            else:
                if response.status_code == 200:
                    return _json_object(response, url)
                if response.status_code != 429 and response.status_code < 500:
                    raise ApiError(response.status_code, _status_message(response))
                problem = f"{self.access.server} answered HTTP {response.status_code}: {_status_message(response)}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ApiUnavailable(
                    f"the Kubernetes API stayed unavailable until the timeout; last: {problem}",
                    hint=f"check that the server of {self.access.origin} is up and reachable from here",
                )
            pause = min(retry_after if retry_after is not None else backoff, remaining)
            progress(f"  {problem}; retrying in {pause:.1f}s")
            time.sleep(pause)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def get_application(self, namespace: str, name: str, deadline: float) -> dict[str, Any]:
        """The Argo CD Application `name` in `namespace`; 401, 403 and 404 become errors that say what to fix."""
        where = f"Argo CD Application {name!r} in namespace {namespace!r}"
        try:
            document = self.get_json(
                f"/apis/{ARGOCD_GROUP}/{ARGOCD_VERSION}/namespaces/{namespace}/applications/{name}", deadline
            )
        except ApiError as error:
            hints = {
                401: f"the credentials of {self.access.origin} were rejected: refresh the token or kubeconfig",
                403: f"grant the identity `get` on applications.{ARGOCD_GROUP} in namespace {namespace} (a Role and "
                f"RoleBinding); check with `kubectl auth can-i get applications.{ARGOCD_GROUP} -n {namespace}`",
                404: f"check the application name and --namespace (where Argo CD keeps its Applications), and that "
                f"{self.access.origin} points at the cluster running Argo CD",
            }
            verdicts = {401: "unauthorized to read", 403: "forbidden to read", 404: "not found:"}
            if error.status_code in verdicts:
                raise CheckFailed(
                    f"{verdicts[error.status_code]} {where} ({error.server_message})", hint=hints[error.status_code]
                ) from None
            raise CheckFailed(f"reading {where} failed: {error.message}", hint=hints[404]) from None
        if document.get("kind") != "Application":
            raise CheckFailed(
                f"{self.access.server} answered with a {document.get('kind') or 'kindless'} object, not the {where}",
                hint=f"check the server URL of {self.access.origin}",
            )
        return document


def _reason(error: Exception) -> str:
    """The innermost cause of a requests error, without urllib3's pool and object addresses."""
    cause: BaseException = error
    seen = {id(cause)}
    while (inner := cause.__cause__ or cause.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        cause = inner
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _json_object(response: Any, url: str) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise CheckFailed(
            f"{url} answered with something other than a JSON object", hint="check the server URL in the kubeconfig"
        )
    return document


def _status_message(response: Any) -> str:
    """The `message` of a Kubernetes Status object, else the start of the body, else the reason phrase."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict) and _string(document.get("message")):
        return document["message"]
    text = (response.text or "").strip()
    return text.splitlines()[0][:200] if text else (response.reason or "no message")


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
