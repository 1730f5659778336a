"""Debian's skopeo as an independent client of a registry: what the tests read back, never our own code."""

from __future__ import annotations

import json
import subprocess

from kit.images import sha256

SKOPEO = "/usr/bin/skopeo"


class Skopeo:
    """Debian's skopeo as an independent client of the registry at `host`."""

    def __init__(self, host: str) -> None:
        self.host = host

    def _run(self, *args: str) -> bytes:
        result = subprocess.run([SKOPEO, *args], capture_output=True, check=False, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"skopeo {' '.join(args)}: {result.stderr.decode(errors='replace')}")
        return result.stdout

    def ref(self, repository: str, reference: str) -> str:
        separator = "@" if reference.startswith("sha256:") else ":"
        return f"docker://{self.host}/{repository}{separator}{reference}"

    def raw(self, repository: str, reference: str) -> bytes:
        return self._run("inspect", "--raw", "--tls-verify=false", self.ref(repository, reference))

    def digest(self, repository: str, reference: str) -> str:
        return sha256(self.raw(repository, reference))

    def tags(self, repository: str) -> list[str]:
        listed: list[str] = json.loads(
            self._run("list-tags", "--tls-verify=false", f"docker://{self.host}/{repository}")
        )["Tags"]
        return listed

    def copy(self, repository: str, source: str, destination: str) -> None:
        self._run(
            "copy",
            "--all",
            "--preserve-digests",
            "--quiet",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            self.ref(repository, source),
            self.ref(repository, destination),
        )
