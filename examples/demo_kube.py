"""The demo's local stand-ins of the Kubernetes API: what they share (a loopback server, its kubeconfig).

Each scene's stand-in answers with its own handler; `health_gate` and the canary scenes then point
`wait-healthy --kubeconfig` at the file `kubeconfig` writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Self

from kit.loopback import LoopbackServer


class KubeApiStandIn:
    """A loopback HTTP server (the kit's) answering with `handler`, started for the length of a `with running()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = LoopbackServer(handler)
        self.url = self.server.url

    @contextmanager
    def running(self) -> Iterator[Self]:
        with self.server:
            yield self

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig whose one context is this server, with a token (the gate sends it)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "demo",
            "clusters": [{"name": "demo", "cluster": {"server": self.url}}],
            "users": [{"name": "demo", "user": {"token": "demo-token"}}],
            "contexts": [{"name": "demo", "context": {"cluster": "demo", "user": "demo"}}],
        }
        path.write_text(json.dumps(config))
        return path
