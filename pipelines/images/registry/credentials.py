"""Who we are to a registry: credentials from the environment or the Docker config file, never printed.

Looked up in this order, for the registry host only: REGISTRY_USERNAME and REGISTRY_PASSWORD
(both or neither), GITHUB_TOKEN (ghcr.io only), the `auths` of the Docker config
($DOCKER_CONFIG/config.json or ~/.docker/config.json); else anonymous.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.core.errors import InputError
from pipelines.core.values import Value, field
from pipelines.edges.files import open_regular
from pipelines.edges.http_rules import clean_credential
from pipelines.images.registry.location import GHCR

CREDENTIAL_SOURCES = (
    "REGISTRY_USERNAME and REGISTRY_PASSWORD, GITHUB_TOKEN (ghcr.io only), or `docker login` (Docker config auths)"
)


class Credentials(Value):
    """A user name and secret for one registry, and where they came from (never the secret itself)."""

    username: str
    password: str = field(repr=False)
    source: str


def docker_config_path(environ: Mapping[str, str], home: Path) -> Path:
    """$DOCKER_CONFIG/config.json, else ~/.docker/config.json."""
    folder = environ.get("DOCKER_CONFIG")
    return (Path(folder) if folder else home / ".docker") / "config.json"


def read_docker_config(path: Path) -> dict[str, Any] | None:
    """The Docker config file as JSON, or None when there is none."""
    try:
        with open_regular(path, what="the Docker config", fix="make it a regular file, or unset DOCKER_CONFIG") as file:
            text = file.read().decode("utf-8", errors="replace")  # a FIFO or device there is refused, never read
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(
            f"cannot read the Docker config {path}: {error.strerror}", hint="fix its permissions"
        ) from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InputError(
            f"the Docker config {path} is not JSON ({error})",
            hint="fix the file, or set REGISTRY_USERNAME and REGISTRY_PASSWORD",
        ) from None
    return document if isinstance(document, dict) else None


def _auth_key_host(key: str) -> str:
    """`https://ghcr.io/v1/` -> `ghcr.io`: Docker config keys are written with and without scheme and path."""
    return key.split("://", 1)[-1].split("/", 1)[0].lower()


def _docker_config_credentials(host: str, config: Mapping[str, Any], where: str) -> Credentials | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _auth_key_host(str(key)) != host or not isinstance(entry, dict):
            continue
        source = f"Docker config {where}"
        what = f"the Docker config {where} entry for {host}"
        if entry.get("username") and entry.get("password"):
            username, password = str(entry["username"]), str(entry["password"])
            return Credentials(clean_credential(username, what), clean_credential(password, what), source)
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                username, separator, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InputError(
                    f"the Docker config {where} has an 'auth' for {key} that is not base64 of user:password",
                    hint=f"run `docker login {host}` again, or set REGISTRY_USERNAME and REGISTRY_PASSWORD",
                ) from None
            if separator and username:
                return Credentials(clean_credential(username, what), clean_credential(password, what), source)
    return None


def find_credentials(
    host: str, environ: Mapping[str, str], docker_config: Mapping[str, Any] | None, docker_config_where: str = ""
) -> Credentials | None:
    """REGISTRY_USERNAME/REGISTRY_PASSWORD, else GITHUB_TOKEN for ghcr.io, else Docker config auths, else None.

    Each value is checked where it enters (`clean_credential`): one trailing newline is dropped, and a
    control character or undecodable byte is refused naming the variable, never the value.
    """
    username = clean_credential(environ.get("REGISTRY_USERNAME") or "", "REGISTRY_USERNAME")
    password = clean_credential(environ.get("REGISTRY_PASSWORD") or "", "REGISTRY_PASSWORD")
    if bool(username) != bool(password):
        missing = "REGISTRY_PASSWORD" if username else "REGISTRY_USERNAME"
        raise InputError(f"{missing} is not set, but its partner is", hint="set both, or neither")
    if username:
        return Credentials(username, password, "REGISTRY_USERNAME/REGISTRY_PASSWORD")
    token = environ.get("GITHUB_TOKEN") or ""
    if token and host == GHCR:
        # ghcr.io checks the token, not the user name; the actor's name keeps its audit log readable.
        actor = clean_credential(environ.get("GITHUB_ACTOR") or "github-actions", "GITHUB_ACTOR")
        return Credentials(actor, clean_credential(token, "GITHUB_TOKEN"), "GITHUB_TOKEN")
    if docker_config is not None:
        return _docker_config_credentials(host, docker_config, docker_config_where)
    return None
