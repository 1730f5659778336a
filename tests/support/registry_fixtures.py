"""Fixtures of the registry tests (images, staging, preflight, the staging render): a real docker-registry on
loopback, real images, skopeo, a fault proxy.

One registry process serves the whole session; each test gets its own namespace in
it, so tests never see each other's tags. The machinery is the kit's (kit/registry.py), which the demo
and benchmarks/bench_promote.py use too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kit.registry import FaultProxy, ImagePusher, LocalRegistry, Skopeo
from pipelines.core.calver import make_build_tag
from pipelines.core.catalog import Project, get_project

_namespaces = itertools.count(1)


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    registry = LocalRegistry(tmp_path_factory.mktemp("docker-registry")).start()
    yield registry
    registry.stop()


@dataclass
class Area:
    """One test's namespace in the local registry, with ways to fill it and read it back."""

    host: str
    namespace: str
    pusher: Any
    skopeo: Any

    def repository(self, project: str) -> str:
        return f"{self.namespace}/{get_project(project).image_name}"

    def registry(self, host: str | None = None) -> str:
        """The --registry value: HOST:PORT/NAMESPACE, through `host` (a proxy) when given."""
        return f"{host or self.host}/{self.namespace}"

    def build_tag(self, *, version: str, sha: str, number: int, at: str, arch: str) -> str:
        return make_build_tag(version=version, sha=sha, arch=arch, build=number, at=datetime.fromisoformat(at)).tag

    def push_build(
        self,
        project: str,
        *,
        sha: str,
        number: int,
        version: str = "0.1.0",
        at: str = "2025-10-25T14:30:00+00:00",
        arches: tuple[str, ...] | None = None,
        shape: str = "oci",
        config_arch: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Push one RC build (every catalog platform unless `arches`); arch -> the pushed manifest."""
        catalog: Project = get_project(project)
        pushed = {}
        for arch in arches if arches is not None else catalog.platforms:
            tag = self.build_tag(version=version, sha=sha, number=number, at=at, arch=arch)
            pushed[arch] = self.pusher.platform_image(
                self.repository(project), tag, arch, shape=shape, config_arch=(config_arch or {}).get(arch)
            )
        return pushed

    def digest(self, project: str, reference: str) -> str:
        return self.skopeo.digest(self.repository(project), reference)

    def raw(self, project: str, reference: str) -> bytes:
        return self.skopeo.raw(self.repository(project), reference)

    def tags(self, project: str) -> list[str]:
        return self.skopeo.tags(self.repository(project))


@pytest.fixture
def area(local_registry: Any) -> Area:
    return Area(
        local_registry.host,
        f"t{next(_namespaces)}",
        ImagePusher(local_registry.host),
        Skopeo(local_registry.host),
    )


@pytest.fixture
def fault_proxy(local_registry: Any) -> Iterator[Callable[..., Any]]:
    """Start a FaultProxy in front of the local registry: fault_proxy(page_size=…, credentials=(user, password))."""
    started = []

    def start(**options: Any) -> Any:
        proxy = FaultProxy(local_registry.host, **options).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """Environment for CLI runs: no registry credentials, and an empty Docker config folder."""
    docker = tmp_path / "docker-config"
    docker.mkdir()
    return {"DOCKER_CONFIG": str(docker), "REGISTRY_USERNAME": "", "REGISTRY_PASSWORD": "", "GITHUB_TOKEN": ""}
