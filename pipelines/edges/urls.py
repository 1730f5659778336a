"""The old home of the URL rules and the Retry-After parser, kept as aliases only.

They live in `pipelines.edges.http` (the one HTTP layer) and `pipelines.edges.retry` now.
`pipelines/health/cluster.py` still imports them from here until the health gate moves onto
the official Kubernetes client; delete this module once nothing imports it.
"""

from __future__ import annotations

from pipelines.edges.http_parts import is_loopback_host, require_secure_url
from pipelines.edges.retry import parse_retry_after

__all__ = ["is_loopback_host", "parse_retry_after", "require_secure_url"]
