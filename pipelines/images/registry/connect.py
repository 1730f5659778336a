"""A registry client for a `--registry HOST[:PORT]/NAMESPACE` value, with the credentials the environment gives.

Credentials are found as everywhere else (`credentials.py`): REGISTRY_USERNAME and
REGISTRY_PASSWORD, else GITHUB_TOKEN for ghcr.io, else the Docker config file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from pipelines.edges.retry import RetryPolicy
from pipelines.images.registry.client import RegistryClient
from pipelines.images.registry.credentials import docker_config_path, find_credentials, read_docker_config
from pipelines.images.registry.location import parse_registry


def connect(
    registry: str,
    *,
    push: bool = False,
    max_time: float | None = None,
    say: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RegistryClient:
    """A client of `registry`; says (never shows) where its credentials came from."""
    environ = os.environ if environ is None else environ
    location = parse_registry(registry)
    config_path = docker_config_path(environ, Path.home())
    credentials = find_credentials(location.host, environ, read_docker_config(config_path), str(config_path))
    if say is not None:
        found = f"credentials from {credentials.source}" if credentials else "anonymous"
        say(f"registry {location.host}: {found}")
    policy = RetryPolicy(max_time=max_time) if max_time is not None else None
    return RegistryClient(location, credentials, push=push, policy=policy, say=say, environ=environ)
