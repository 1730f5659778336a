"""Where a registry is: `HOST[:PORT]/NAMESPACE` parsed and checked, and whether the host is this machine.

Plain HTTP is used only for loopback hosts (localhost, 127.0.0.0/8, ::1); every other
registry is spoken to over HTTPS. Nothing here sends a request.
"""

from __future__ import annotations

import ipaddress
import re

from pipelines.core.errors import InputError
from pipelines.core.values import Value
from pipelines.edges.http import is_loopback_host

GHCR = "ghcr.io"

# Repository path components, as the distribution spec defines them.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*")
_HOSTNAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[^:/\[\]]+)(?::(?P<port>[0-9]{1,5}))?")


def hostname_of(host: str) -> str:
    """`127.0.0.1:5000` -> `127.0.0.1`; `[::1]:5000` -> `::1`."""
    match = _HOST.fullmatch(host)
    name = match.group("name") if match else host
    return name[1:-1] if name.startswith("[") else name


def is_loopback(host: str) -> bool:
    """Whether HOST[:PORT] is this machine, where plain HTTP is allowed."""
    return is_loopback_host(hostname_of(host))


class RegistryLocation(Value):
    """A registry host (with its port) and the namespace image repositories live under."""

    host: str
    namespace: str = ""

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def base_url(self) -> str:
        # Plain HTTP only where nothing leaves the machine.
        return f"{'http' if self.is_loopback else 'https'}://{self.host}"

    def repository(self, image_name: str) -> str:
        """The repository path of an image under the namespace, e.g. `percolation-labs/percolate`."""
        return f"{self.namespace}/{image_name}" if self.namespace else image_name

    def __str__(self) -> str:
        return f"{self.host}/{self.namespace}" if self.namespace else self.host


def parse_registry(text: str) -> RegistryLocation:
    """Parse `HOST[:PORT]/NAMESPACE` (the namespace may be empty or have several components)."""
    expected = "expected HOST[:PORT]/NAMESPACE, e.g. ghcr.io/percolation-labs or 127.0.0.1:5000/test"
    if "://" in text:
        raise InputError(f"registry {text!r} has a scheme", hint=f"drop the scheme: {expected}")
    host, _, namespace = text.partition("/")
    match = _HOST.fullmatch(host)
    if not match:
        raise InputError(f"registry {text!r} has no valid host", hint=expected)
    name, port = match.group("name"), match.group("port")
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            raise InputError(f"registry host {name!r} is not an IPv6 address", hint=expected) from None
    elif not _HOSTNAME.fullmatch(name):
        raise InputError(f"registry host {name!r} is not a valid host name", hint=expected)
    if port is not None and not 1 <= int(port) <= 65535:
        raise InputError(f"registry port {port} is outside 1-65535", hint=expected)
    namespace = namespace.rstrip("/")
    bad = [part for part in namespace.split("/") if not _COMPONENT.fullmatch(part)] if namespace else []
    if bad:
        raise InputError(
            f"registry namespace {namespace!r} has an invalid component {bad[0]!r}",
            hint="namespace components are lower-case letters and digits, joined by '.', '_', '__' or '-'",
        )
    return RegistryLocation(host.lower(), namespace)
