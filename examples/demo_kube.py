"""The demo's local stand-ins of the Kubernetes API: what they share (a loopback server, its kubeconfig).

Each scene's stand-in answers with its own handler; `health_gate` and the canary scenes then point
`wait-healthy --kubeconfig` at the file `kubeconfig` writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self


class KubeApiStandIn:
    """A loopback HTTP server answering with `handler`, started for the length of a `with running()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    @contextmanager
    def running(self) -> Iterator[Self]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()

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
