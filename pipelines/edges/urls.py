"""HTTP rules every client of the pipelines shares: which URLs they may talk to (https anywhere,
plain http only to this machine), and how long a server asks them to wait (Retry-After)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from pipelines.core.errors import InputError


def is_loopback_host(hostname: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (a bare host name, without port or brackets)."""
    if not hostname:
        return False
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def require_secure_url(url: str, what: str, example: str) -> None:
    """Refuse a URL that is not https, except plain http to a loopback host (tests, the demo)."""
    parts = urlsplit(url)
    if parts.hostname and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))):
        return
    raise InputError(
        f"{what} {url!r} is not an https URL",
        hint=f"use {example}; plain http is accepted only for loopback hosts (127.0.0.1, ::1, localhost)",
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
