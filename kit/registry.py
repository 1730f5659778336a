"""A real OCI registry on loopback: Debian's `docker-registry` (distribution 2.8) on a free port of 127.0.0.1,
filesystem storage in a folder of the caller's.

What goes with it is here by name too (`from kit import registry`): real images pushed into it
(kit/images.py), skopeo reading them back (kit/skopeo.py), and the fault proxy in front of it
(kit/fault_proxy.py). Nothing here uses the code under test to write or read the registry.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kit.fault_proxy import Fault, FaultProxy, Logged
from kit.images import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, ImagePusher, Pushed, sha256
from kit.loopback import free_port, wait_until_serving
from kit.skopeo import Skopeo

__all__ = [
    "DOCKER_MANIFEST",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Fault",
    "FaultProxy",
    "ImagePusher",
    "LocalRegistry",
    "Logged",
    "Pushed",
    "Skopeo",
    "sha256",
]

DOCKER_REGISTRY = "/usr/bin/docker-registry"


class LocalRegistry:
    """Debian's docker-registry serving plain HTTP on 127.0.0.1:<free port>, storing under `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalRegistry:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.folder / 'storage'}\n"
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"
            f"http:\n  addr: {self.host}\n"
        )
        # The child keeps its own copy of the log's descriptor; ours is closed at once.
        with open(self.folder / "registry.log", "wb") as log:
            self._process = subprocess.Popen([DOCKER_REGISTRY, "serve", str(config)], stdout=log, stderr=log)
        try:
            wait_until_serving(f"http://{self.host}/v2/", self._process, seconds=15)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"docker-registry on {self.host}: {error}; its log:\n{self.log()}") from None
        return self

    def log(self) -> str:
        return (self.folder / "registry.log").read_text(errors="replace")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
