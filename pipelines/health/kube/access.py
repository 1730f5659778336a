"""Which cluster, as whom: the health gate's access to the Kubernetes API, loaded by the official client.

Kubeconfig files are found and prepared by pipelines.health.kube.kubeconfig (kubectl's rules, the
gate's policy, exec plugins behind a time limit); `kubernetes.config` then reads the
credentials into a `Configuration`: tokens, token files, client certificates, `-data` fields,
exec plugins. Without any kubeconfig, inside a pod (KUBERNETES_SERVICE_HOST set), the
client's in-cluster loader uses the pod's service account.

On top of the client, this module:
- turns the client's exceptions (and the failures it only logs, such as a failing exec
  plugin) into errors that say why: `InputError` (exit 2) or `Unauthorized`;
- keeps the key material the client writes to files (`-data` fields, exec certificates) in
  a private temp folder of ours (0700, files 0600), removed by `Access.close()`;
- turns urllib3's own retries off, so pipelines.edges.retry alone decides, and trims the
  bearer token before every request, as kubectl does.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.core.errors import InputError, Unauthorized
from pipelines.core.secrets import remember
from pipelines.edges.http_rules import clean_credential, shorten
from pipelines.edges.retry import Deadline
from pipelines.health.kube.kubeconfig import FIX_HINT, ExecPlugin, kubeconfig_files, prepare

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_KUBECONFIG_HINT = "pass --kubeconfig FILE, set KUBECONFIG, or run inside the cluster with a service account"


@dataclass
class Access:
    """A client of the official library for one API server, and where its credentials came from."""

    api_client: Any = field(repr=False)  # kubernetes.client.ApiClient
    server: str
    origin: str  # for messages: "context X of FILE" or "the pod's service account"
    context: str | None = None
    secrets: Path | None = None  # the private folder holding key material the client wrote

    def close(self) -> None:
        """Close the connections and remove the key material the client wrote for us."""
        self.api_client.close()
        if self.secrets is not None:
            shutil.rmtree(self.secrets, ignore_errors=True)


def load_access(
    kubeconfig: Path | None,
    context: str | None,
    deadline: Deadline,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> Access:
    """The access kubectl would use for these arguments and environment; exec plugins end by `deadline`."""
    environ = os.environ if environ is None else environ
    files = kubeconfig_files(kubeconfig, environ, home or Path.home())
    if files:
        return _from_kubeconfig(files, context, time.time() + deadline.remaining())
    if environ.get("KUBERNETES_SERVICE_HOST"):
        if context:
            raise InputError(f"--context {context} given but no kubeconfig was found", hint=_KUBECONFIG_HINT)
        return _in_cluster(environ, service_account_dir)
    raise InputError(
        "no kubeconfig found (~/.kube/config does not exist, KUBECONFIG is not set)", hint=_KUBECONFIG_HINT
    )


def _from_kubeconfig(files: list[Path], context: str | None, until: float) -> Access:
    kubeconfig = prepare(files, context, until)
    from kubernetes.client import Configuration
    from kubernetes.config import load_kube_config_from_dict

    configuration = Configuration()
    secrets = Path(tempfile.mkdtemp(prefix="pipelines-kube-"))
    try:
        with _client_errors() as errors, _unusable(kubeconfig.origin):
            load_kube_config_from_dict(  # type: ignore[no-untyped-call]
                kubeconfig.merged,
                context=kubeconfig.context,
                client_configuration=configuration,
                persist_config=False,  # never rewrite the user's kubeconfig (the client would, for refreshed tokens)
                temp_file_path=str(secrets),
            )
        has_credentials = "BearerToken" in configuration.api_key or configuration.cert_file
        if kubeconfig.plugin is not None and not has_credentials:
            raise _plugin_failed(kubeconfig.plugin, kubeconfig.origin, errors)
        return _access(configuration, kubeconfig.server, kubeconfig.origin, kubeconfig.context, secrets)
    except BaseException:
        shutil.rmtree(secrets, ignore_errors=True)
        raise


def _plugin_failed(plugin: ExecPlugin, origin: str, errors: list[str]) -> Unauthorized:
    why = errors[-1] if errors else "it returned neither a token nor a client certificate"
    return Unauthorized(
        f"no credentials for {origin}: its exec credential plugin {plugin.command!r} failed: {why}",
        hint=plugin.install_hint or "run the plugin by hand to see why (e.g. an expired login)",
    )


def _in_cluster(environ: Mapping[str, str], service_account_dir: Path) -> Access:
    from kubernetes.client import Configuration
    from kubernetes.config.incluster_config import InClusterConfigLoader

    origin = "the pod's service account"
    configuration = Configuration()
    with _unusable(origin, hint="mount a service account token into the pod (automountServiceAccountToken)"):
        loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
            token_filename=str(service_account_dir / "token"),
            cert_filename=str(service_account_dir / "ca.crt"),
            environ=environ,
        )
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
    return _access(configuration, configuration.host, origin, None, None)


def _access(configuration: Any, server: str, origin: str, context: str | None, secrets: Path | None) -> Access:
    from kubernetes.client import ApiClient

    if not configuration.verify_ssl:  # refused above; checked on what the client made of it too
        raise InputError(f"certificate checks are off for {origin}", hint="remove insecure-skip-tls-verify")
    # Ours are the only retries (pipelines.edges.retry): urllib3's would retry behind our backs, past the
    # deadline, and follow redirects with the token.
    configuration.retries = False
    _guard_refresh(configuration, origin)
    _strip_token(configuration, origin)
    with _unusable(origin):
        api_client = ApiClient(configuration)
    api_client.user_agent = "percolate-pipelines"
    return Access(api_client, server, origin, context, secrets)


def _strip_token(configuration: Any, origin: str) -> None:
    """Trim the bearer token as kubectl does, then refuse one that holds control characters (naming where
    it came from, never its value): the client would send a line break into the header, and http.client's
    refusal quotes the whole header."""
    # The client sends a token file's trailing newline, which http.client refuses in a header;
    # kubectl trims it (kubernetes/kubernetes#52919).
    token = configuration.api_key.get("BearerToken")
    if isinstance(token, str):
        token = clean_credential(token.strip(), f"the token of {origin}")
        remember(token.removeprefix("Bearer "))  # the client keeps the scheme in front; a server may echo the rest
        configuration.api_key["BearerToken"] = token


def _guard_refresh(configuration: Any, origin: str) -> None:
    """Wrap the client's per-request credential refresh (exec plugins, in-cluster token files) so that
    a failure says why instead of sending a stale token, and the token is trimmed every time."""
    if configuration.refresh_api_key_hook is not None:
        configuration.refresh_api_key_hook = _GuardedRefresh(configuration.refresh_api_key_hook, origin)


class _GuardedRefresh:
    def __init__(self, inner: Callable[[Any], None], origin: str) -> None:
        self.inner = inner
        self.origin = origin

    def __call__(self, configuration: Any) -> None:
        from kubernetes.config.config_exception import ConfigException

        try:
            with _client_errors() as errors:
                self.inner(configuration)
        except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            # TypeError: the client compares an expirationTimestamp without a zone with an aware time.
            errors = [shorten(str(error)) or type(error).__name__]
        # The client's hook installs a fresh hook of its own on every call: keep ours in front of it.
        if configuration.refresh_api_key_hook is not self:
            self.inner = configuration.refresh_api_key_hook
            configuration.refresh_api_key_hook = self
        if errors:
            raise Unauthorized(
                f"refreshing the credentials of {self.origin} failed: {errors[-1]}",
                hint="run the exec plugin (or read the token file) by hand to see why",
            )
        try:
            _strip_token(configuration, self.origin)
        except InputError as error:
            raise Unauthorized(f"refreshing the credentials failed: {error.message}", hint=error.hint) from None


@contextmanager
def _client_errors() -> Iterator[list[str]]:
    """What the client logs while it runs: it reports a failing exec plugin only through `logging.error`."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)  # also keeps logging's last-resort handler from printing them
    try:
        yield messages
    finally:
        root.removeHandler(handler)


@contextmanager
def _unusable(origin: str, hint: str = FIX_HINT) -> Iterator[None]:
    """Turn what the client raises on a kubeconfig it cannot use into an InputError that says why.

    Besides its ConfigException, the client lets Python's own errors through for values of the wrong
    type (a number where a path belongs, a list where a URL belongs)."""
    from kubernetes.config.config_exception import ConfigException

    try:
        yield
    except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        detail = str(error) or type(error).__name__
        raise InputError(f"cannot use {origin}: {detail}", hint=hint) from None
