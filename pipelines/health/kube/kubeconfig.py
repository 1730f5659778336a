"""The gate's kubeconfig rules, on top of the official client's reading of kubeconfig files.

The client (`kubernetes.config`) merges the files, reads the credentials and runs exec
plugins; this module finds the files as kubectl does (`--kubeconfig`, $KUBECONFIG, then
~/.kube/config) and prepares the client's merged view before the client uses it:

- kubectl's rules where the client differs: the first file to set `current-context` wins
  (the client takes the last one, kubernetes-client/python#2386), and relative paths resolve
  against the file that names them (the client uses the cluster's file for certificates);
- the gate's policy, checked before any plugin runs: https, or plain http to loopback only;
  certificate checks never skipped; no auth-provider or basic auth; an exec plugin that is
  installed and speaks client.authentication.k8s.io v1 or v1beta1;
- exec plugins run behind exec_limit.py, which stops them at the gate's deadline (the client
  waits for them without a timeout);
- a document of the wrong shape is an InputError that says where, not the bare TypeError or
  KeyError the client's merger would raise.

Only the merged view in memory is edited; no kubeconfig file is ever written.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.core.errors import InputError
from pipelines.edges.files import read_yaml
from pipelines.edges.http_rules import require_secure_url
from pipelines.health.kube import exec_limit

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# One run of an exec plugin gets at most this long, and never past the gate's deadline.
EXEC_RUN_LIMIT = 60.0
FIX_HINT = "fix the kubeconfig; `kubectl config view` shows what kubectl makes of it"
_SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}


@dataclass(frozen=True)
class ExecPlugin:
    """The command a kubeconfig names as its exec credential plugin, for messages."""

    command: str
    install_hint: str | None


@dataclass(frozen=True)
class Kubeconfig:
    """The client's merged kubeconfig (a `ConfigNode`), ready for `load_kube_config_from_dict`, and what the gate
    tells people about it."""

    merged: Any = field(repr=False)
    context: str
    origin: str  # "context X of FILE"
    server: str
    plugin: ExecPlugin | None


def kubeconfig_files(explicit: Path | None, environ: Mapping[str, str], home: Path) -> list[Path]:
    """The kubeconfig files kubectl would read: `explicit`, else those of $KUBECONFIG that exist, else
    ~/.kube/config if it exists; InputError when the user named files that do not exist."""
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


def prepare(files: list[Path], context: str | None, until: float) -> Kubeconfig:
    """The client's merge of `files`, checked against the gate's rules and adjusted to kubectl's, with the context
    to use (`context`, else kubectl's current-context); exec plugins will be stopped at `until` (epoch seconds)."""
    documents = {path: _read_document(path) for path in files}
    readable = [path for path, document in documents.items() if document is not None]
    # kubectl: the first file to set current-context wins.
    current = next((d["current-context"] for d in documents.values() if d and _text(d.get("current-context"))), None)
    chosen = context or current
    if not chosen:
        raise InputError(
            "the kubeconfig has no current-context", hint="pass --context NAME or run `kubectl config use-context NAME`"
        )
    from kubernetes.config.kube_config import KubeConfigMerger

    # The client's own merge: for clusters, users and contexts the first definition of a name wins,
    # and every entry remembers its file.
    merged = None
    if readable:
        merged = KubeConfigMerger(os.pathsep.join(map(str, readable))).config  # type: ignore[no-untyped-call]
    entries = merged.value if merged is not None else {section: [] for section in _SECTIONS}
    context_node = _named(entries["contexts"], chosen)
    if context_node is None:
        known = ", ".join(sorted(str(node.value["name"]) for node in entries["contexts"])) or "none"
        raise InputError(f"context {chosen!r} is not in the kubeconfig", hint=f"known contexts: {known}")
    origin = f"context {chosen} of {context_node.path}"
    cluster_name, user_name = context_node.value["context"].get("cluster"), context_node.value["context"].get("user")
    cluster_node = _named(entries["clusters"], cluster_name)
    if cluster_node is None:
        raise InputError(
            f"{origin} names cluster {cluster_name!r}, which the kubeconfig does not define", hint=FIX_HINT
        )
    user_node = _named(entries["users"], user_name) if user_name else None
    if user_name and user_node is None:
        raise InputError(f"{origin} names user {user_name!r}, which the kubeconfig does not define", hint=FIX_HINT)

    cluster, cluster_dir = cluster_node.value["cluster"], Path(cluster_node.path).parent
    user, user_dir = (user_node.value["user"], Path(user_node.path).parent) if user_node else ({}, cluster_dir)
    server = _check_cluster(cluster, origin)
    _check_user(user, origin)
    # Edited in the merged view only (never written back): paths made absolute against the file
    # that names them, and an exec plugin put behind the time limit.
    _anchor(cluster, ("certificate-authority",), cluster_dir, origin)
    _anchor(user, ("client-certificate", "client-key", "tokenFile"), user_dir, origin)
    plugin = _limit_exec_plugin(user, user_dir, origin, until) if "exec" in user else None
    return Kubeconfig(merged, chosen, origin, server, plugin)


def _read_document(path: Path) -> Mapping[str, Any] | None:
    """One kubeconfig file, checked for the shape the client's merger assumes (it fails with a bare
    TypeError or KeyError otherwise); None for an empty file, which adds nothing to the merge."""
    document = read_yaml(path, fix=FIX_HINT)
    if document is None:
        return None
    if not isinstance(document, Mapping):
        raise InputError(
            f"kubeconfig {path} is not a YAML mapping", hint="a kubeconfig has clusters, users and contexts"
        )
    for section, body_key in _SECTIONS.items():
        entries = document.get(section)
        if entries is not None and not isinstance(entries, list):
            raise InputError(f"kubeconfig {path}: {section} is not a list", hint=FIX_HINT)
        for entry in entries or []:
            if not (
                isinstance(entry, Mapping)
                and isinstance(entry.get("name"), str)
                and entry["name"]
                and isinstance(entry.get(body_key), Mapping)
            ):
                raise InputError(
                    f"kubeconfig {path}: an entry of {section} has no name or no {body_key} mapping", hint=FIX_HINT
                )
    return document


def _limit_exec_plugin(user: Any, user_dir: Path, origin: str, until: float) -> ExecPlugin:
    """Check the exec stanza and make the client run the plugin through exec_limit.py."""
    spec = user["exec"]
    described = f"the exec credential plugin of {origin}"
    if not isinstance(spec, Mapping) or _text(spec.get("command")) is None:
        raise InputError(f"{described} has no command", hint="fix user.exec.command in the kubeconfig")
    api_version = spec.get("apiVersion")
    if api_version not in EXEC_API_VERSIONS:
        raise InputError(f"{described} speaks {api_version}", hint=f"supported: {', '.join(EXEC_API_VERSIONS)}")
    args, env = spec.get("args") or [], spec.get("env") or []
    if not (isinstance(args, list) and all(isinstance(arg, str) for arg in args)):
        raise InputError(f"{described} has malformed args", hint="args is a list of strings")
    if not (
        isinstance(env, list)
        and all(
            isinstance(e, Mapping) and isinstance(e.get("name"), str) and isinstance(e.get("value"), str) for e in env
        )
    ):
        raise InputError(f"{described} has a malformed env", hint="env is a list of {name, value} strings")
    command = str(spec["command"])
    install_hint = _text(spec.get("installHint"))
    # kubectl: a command with a path separator is relative to the kubeconfig; a bare name is looked up on
    # the plugin's PATH (ours, unless the stanza's env sets one).
    search = next((e["value"] for e in env if e["name"] == "PATH"), os.environ.get("PATH", os.defpath))
    if os.sep in command:
        path = command if os.path.isabs(command) else str(user_dir / command)
        resolved = path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    else:
        resolved = shutil.which(command, path=search)
    if resolved is None:
        raise InputError(
            f"{described}, {command!r}, is not installed", hint=install_hint or "install it, or use a token"
        )
    limiter = [sys.executable, "-I", exec_limit.__file__, repr(until), repr(EXEC_RUN_LIMIT), resolved]
    user["exec"] = {**spec, "command": limiter[0], "args": [*limiter[1:], *args]}
    return ExecPlugin(command, install_hint)


def _named(nodes: list[Any], name: Any) -> Any:
    """The merged entry called `name` (a ConfigNode of the client), or None."""
    return next((node for node in nodes if node.value["name"] == name), None) if isinstance(name, str) else None


def _check_cluster(cluster: Mapping[str, Any], origin: str) -> str:
    server = _text(cluster.get("server"))
    if server is None:
        raise InputError(
            f"the cluster of {origin} has no server URL", hint="add cluster.server, e.g. https://host:6443"
        )
    if cluster.get("insecure-skip-tls-verify"):
        raise InputError(
            f"the cluster of {origin} sets insecure-skip-tls-verify",
            hint="the gate sends credentials, so it verifies the server: give certificate-authority(-data) instead",
        )
    try:
        require_secure_url(server, f"{origin}: server", "https://HOST[:PORT]")
    except ValueError as error:  # urlsplit refuses e.g. an unclosed IPv6 bracket
        raise InputError(f"{origin}: server {server!r} is not a URL ({error})", hint=FIX_HINT) from None
    _check_base64(cluster, ("certificate-authority-data",), f"the cluster of {origin}")
    return server.rstrip("/")


def _check_user(user: Mapping[str, Any], origin: str) -> None:
    unsupported = [key for key in ("auth-provider", "username", "password") if user.get(key)]
    if unsupported:
        raise InputError(
            f"the user of {origin} authenticates with {', '.join(unsupported)}, which the gate does not support",
            hint="use a bearer token, a client certificate or an exec plugin (e.g. kubelogin)",
        )
    _check_base64(user, ("client-certificate-data", "client-key-data"), f"the user of {origin}")
    if "token" in user and not isinstance(user["token"], str):
        raise InputError(f"the token of the user of {origin} is not a string", hint=FIX_HINT)
    has_cert = bool(user.get("client-certificate") or user.get("client-certificate-data"))
    has_key = bool(user.get("client-key") or user.get("client-key-data"))
    if has_cert != has_key:
        raise InputError(
            f"the user of {origin} has a client {'certificate' if has_cert else 'key'} without its "
            f"{'key' if has_cert else 'certificate'}",
            hint="give both client-certificate(-data) and client-key(-data), or neither",
        )


def _check_base64(body: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    # The client decodes leniently (dropping what is not base64), so a typo would only show as a TLS failure.
    for key in keys:
        if key not in body:
            continue
        try:
            base64.b64decode(body[key], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise InputError(
                f"{key} of {where} is not valid base64", hint="re-export it, e.g. `base64 -w0 < ca.crt`"
            ) from None


def _anchor(body: Any, keys: tuple[str, ...], folder: Path, origin: str) -> None:
    for key in keys:
        if key not in body:
            continue
        value = body[key]
        if not isinstance(value, str):
            raise InputError(f"{key} of {origin} is not a path", hint=FIX_HINT)
        if value and not os.path.isabs(value):
            body[key] = str(folder / value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
