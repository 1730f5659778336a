"""The parts of the HTTP layer that hold no connection: where we may send, what we send, what comes back.

- URL rules: https anywhere, plain http only to this machine (`require_secure_url`), and
  `safe_url`, the only form of a URL that enters a message (no userinfo, no query);
- the proxy for an https origin, from HTTPS_PROXY and NO_PROXY (never one for loopback);
- request checks that refuse a header value with a line break without quoting it;
- the `Response` value, its case-insensitive `Headers`, and RFC 8288 `Link` header parsing;
- `TransportError`, a request that got no whole answer, and `status_error`, the error of an answer;
- `translate`: a failed exchange in our own words (never a lower layer's exception text).

`pipelines.edges.http` sends requests with these; clients import them from there.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from pipelines.core.errors import CheckFailed, Corrupt, InputError, NotFound, Unauthorized, Unavailable
from pipelines.core.json_text import load_json
from pipelines.core.secrets import redact, remember
from pipelines.core.values import Value, field
from pipelines.edges.retry import RETRYABLE_STATUS

MAX_HEADER_VALUE = 16 << 10  # characters of a header value we send: a token of a few KiB fits
TLS_HINT = "check the server's certificate and host name; for a private CA set SSL_CERT_FILE to its PEM bundle"

HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an RFC 9110 token
_LINK_TARGET = re.compile(r"\s*<([^>]*)>")
_LINK_PARAM = re.compile(r'\s*;\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s;,"]*))?')
_LINK_NEXT = re.compile(r"\s*,")
_ESCAPED = re.compile(r"\\(.)")


def clean_credential(value: str, what: str) -> str:
    """A credential as it entered (an environment variable, a file, a plugin's output), checked before any use.

    One trailing newline (as `echo` or a `token: |` block leaves it) is removed; any other control
    character, or text that is not UTF-8 (a surrogate from undecodable bytes), is refused with an
    InputError naming `what`, never the value: a line break in a header value would end the header.
    """
    if value.endswith("\r\n"):
        value = value[:-2]
    elif value.endswith("\n"):
        value = value[:-1]
    if not is_clean_credential(value):
        raise InputError(
            f"{what} holds a line break, a control character or bytes that are not UTF-8",
            hint=f"set {what} again without them (a value pasted with an extra line?)",
        )
    return value


def is_clean_credential(value: str) -> bool:
    """Whether a credential a service handed us is one line of printable characters (no header injection)."""
    if value.isprintable():  # no control character or surrogate among them (the common case)
        return True
    from unicodedata import category  # loaded for such text only: a format character (Cf) is still allowed

    return all(category(c) not in ("Cc", "Cs") for c in value)


def join_url(base: str, reference: str) -> str | None:
    """`reference` (a Location, a Link target, an href) resolved against `base`; None when it does not parse."""
    try:
        joined = urljoin(base, reference)
        urlsplit(joined).port  # noqa: B018 - parsing the port raises for a bad one
    except ValueError:
        return None
    return joined


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


def safe_url(url: str) -> str:
    """`url` fit for a message: without userinfo, query and fragment, where credentials and signatures travel."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return urlunsplit((parts.scheme, authority(host, port), parts.path, "", ""))


def authority(host: str, port: int | None) -> str:
    """`host[:port]` as a URL, a Host field or CONNECT spells it: an IPv6 address in brackets."""
    name = f"[{host}]" if ":" in host else host
    return f"{name}:{port}" if port else name


def is_tls_cut(error: BaseException) -> bool:
    """Whether `error` is a TLS stream that ended (no close_notify, a zero return, a failed read) rather than
    one that failed: a cut connection to try again. Without `ssl` loaded, no TLS error can occur."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(error, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError))


def require_secure_url(url: str, what: str, example: str) -> None:
    """Refuse a URL that is not https, except plain http to a loopback host (tests, the demo)."""
    parts = urlsplit(url)
    if parts.hostname and (parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))):
        return
    raise InputError(
        f"{what} {safe_url(url)!r} is not an https URL",
        hint=f"use {example}; plain http is accepted only for loopback hosts (127.0.0.1, ::1, localhost)",
    )


def shorten(text: str, limit: int = 200) -> str:
    """`text` on one line, printable characters only, at most `limit` long: how a server's words enter a message.

    The process's secrets are redacted from the whole text first: a cut never leaves half a secret behind.
    """
    flat = " ".join("".join(c if c.isprintable() else " " for c in redact(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def basic_authorization(username: str, password: str) -> str:
    """The value of an `Authorization` (or `Proxy-Authorization`) header for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def status_error(status: int, message: str, hint: str | None = None) -> CheckFailed:
    """The error of a final answer that is not a success, by cause.

    Any answer outside those named is one the API does not document for the call (or a server off
    the spec): not worth retrying, and no verdict on the release, so it is `Corrupt`.
    """
    if status in (401, 403):
        return Unauthorized(message, hint=hint)
    if status == 404:
        return NotFound(message, hint=hint)
    if status in RETRYABLE_STATUS or status == 408 or status >= 500:
        return Unavailable(message, hint=hint)
    return Corrupt(message, hint=hint)


class TransportError(Exception):
    """No whole answer came (refused, reset, timed out, cut short); `reason` is in our own words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TunnelRefused(Exception):
    """A proxy answered CONNECT with something other than 2xx; its status and reason phrase (untrusted text)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status)
        self.status, self.reason = status, reason


class Link(Value):
    """One link of an RFC 8288 `Link` header: its target as written (maybe relative) and its parameters."""

    target: str
    params: tuple[tuple[str, str], ...] = ()  # names in lower case, values unquoted, in order

    @property
    def rels(self) -> tuple[str, ...]:
        # Only the first rel parameter counts (RFC 8288 3.3); it may hold several relation types.
        return next((tuple(value.lower().split()) for name, value in self.params if name == "rel"), ())


def parse_link_header(value: str) -> tuple[Link, ...]:
    """The links of a `Link` header value, in order; reading stops at the first part that is not a link."""
    links: list[Link] = []
    position = 0
    while (target := _LINK_TARGET.match(value, position)) is not None:
        position, params = target.end(), []
        while (param := _LINK_PARAM.match(value, position)) is not None:
            raw = param.group(2) or ""
            params.append((param.group(1).lower(), _ESCAPED.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw))
            position = param.end()
        links.append(Link(target.group(1).strip(), tuple(params)))
        if (comma := _LINK_NEXT.match(value, position)) is None:
            break
        position = comma.end()
    return tuple(links)


class Headers(Mapping[str, str]):
    """Header fields looked up case-insensitively; a repeated field is joined with ", " (RFC 9110 5.3)."""

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        joined: dict[str, tuple[str, str]] = {}
        for name, value in fields:
            known = joined.get(name.lower())
            joined[name.lower()] = (name, value) if known is None else (known[0], f"{known[1]}, {value}")
        self._fields = joined

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._fields)})"  # names only: values may be credentials


class Response(Value):
    """One final answer: status, reason, headers, the body's bytes, and the URL that gave it."""

    status: int
    reason: str
    headers: Headers
    body: bytes = field(repr=False)
    url: str = field(repr=False)  # after redirects; may carry a signed query, so never print it whole

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        charset = re.search(r'charset="?([\w.:-]+)', self.headers.get("Content-Type", ""))
        try:
            return self.body.decode(charset.group(1) if charset else "utf-8", errors="replace")
        except (LookupError, ValueError):  # an unknown charset, or a codec without "replace" (idna)
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON (or nested deeper than the parser goes)."""
        return load_json(self.body)

    @property
    def links(self) -> dict[str, Link]:
        """The `Link` header's links by relation type (the first link of each type wins)."""
        found: dict[str, Link] = {}
        for link in parse_link_header(self.headers.get("Link", "")):
            for rel in link.rels:
                found.setdefault(rel, link)
        return found

    def excerpt(self, limit: int = 200) -> str:
        """The start of the body for a message (see `shorten`), else the reason phrase."""
        body = shorten(self.body.decode("utf-8", errors="replace"), limit)
        return body or shorten(self.reason, limit) or "no details"


class Proxy(Value):
    """An HTTP proxy that tunnels https with CONNECT; `headers` carry its credentials, if any."""

    host: str
    port: int
    headers: Mapping[str, str] = field(repr=False)


def _bypasses(rules: str, host: str, port: int) -> bool:
    """Whether NO_PROXY (`*`, host, .domain, *.domain, host:port, CIDR; comma-separated) exempts host:port."""
    for rule in (part.strip().lower() for part in rules.split(",")):
        name, _, rule_port = rule.rpartition(":") if rule.count(":") == 1 or "]:" in rule else (rule, "", "")
        if rule == "*" or (rule_port and rule_port != str(port)):
            if rule == "*":
                return True
            continue
        name = name.strip("[]").lstrip("*").lstrip(".")
        if "/" in name:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                continue
        elif name and (host == name or host.endswith("." + name)):
            return True
    return False


def proxy_for(host: str, port: int, environ: Mapping[str, str]) -> Proxy | None:
    """The proxy for https to host:port: HTTPS_PROXY (or https_proxy) unless NO_PROXY exempts it; none for loopback."""
    setting = environ.get("HTTPS_PROXY") or environ.get("https_proxy") or ""
    rules = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
    if not setting or is_loopback_host(host) or _bypasses(rules, host.lower(), port):
        return None
    parts = urlsplit(setting if "://" in setting else f"http://{setting}")
    try:
        proxy_port = parts.port or 80
    except ValueError:
        proxy_port = 0
    if parts.scheme != "http" or not parts.hostname or not proxy_port:
        # Never echo the setting: it may hold the proxy's password.
        raise InputError(
            "HTTPS_PROXY is not an http://[USER:PASSWORD@]HOST[:PORT] proxy URL",
            hint="fix HTTPS_PROXY (the proxy is spoken to in plain HTTP and tunnels TLS with CONNECT), or unset it",
        )
    user = (unquote(parts.username or ""), unquote(parts.password or ""))
    headers = {"Proxy-Authorization": basic_authorization(*user)} if parts.username else {}
    if parts.username:  # a proxy may echo what it was sent, in its 407 reason phrase too
        remember(user[1])
        remember(headers["Proxy-Authorization"].split(" ", 1)[1])
    return Proxy(parts.hostname, proxy_port, headers)


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InputError(f"{safe_url(url)!r} has an invalid port", hint="ports are 1-65535") from None
    return parts.scheme, (parts.hostname or "").lower(), port


def is_sendable_url(url: str) -> bool:
    """Whether `url` can go into a request line as it is: ASCII, no space, no control character."""
    return url.isascii() and not any(c <= " " or c == "\x7f" for c in url)


def message_url(url: str) -> str:
    """A URL a server chose (a redirect's target) as it enters a message: `safe_url`, then `shorten`ed."""
    return shorten(safe_url(url), 120)


def check_request(url: str, headers: Mapping[str, str]) -> None:
    """Refuse what cannot go on the wire as it is, with a message that never quotes a value (it may be a credential)."""
    if not is_sendable_url(url):
        raise InputError(f"{safe_url(url)!r} holds characters a URL may not", hint="percent-encode them")
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise InputError(f"{name!r} is not a valid HTTP header name", hint="header names are RFC 9110 tokens")
        if len(value) > MAX_HEADER_VALUE:  # a credential is remembered in every spelling: bounded memory
            raise InputError(
                f"the value of header {name} is longer than {MAX_HEADER_VALUE} characters; nothing was sent",
                hint=f"check where the {name} value comes from",
            )
        if any(c in value for c in "\r\n\0") or not all(ord(c) < 256 for c in value):
            raise InputError(
                f"the value of header {name} holds a line break, NUL or non-Latin-1 character; nothing was sent",
                hint=f"check where the {name} value comes from (a token pasted with a newline?)",
            )


def too_big(url: str, cap: int) -> Corrupt:
    return Corrupt(
        f"{message_url(url)} answered with more than {cap} bytes, more than this kind of answer holds",
        hint="check the URL; a server sending that much is not the one meant",
    )


def translate(error: BaseException, host: str, *, late: bool) -> Exception | None:
    """Our own words for a failed exchange: a TransportError to retry, Unavailable for TLS, None for the rest."""
    if isinstance(error, TransportError):
        return error
    if isinstance(error, TunnelRefused):
        return Unavailable(
            f"the proxy refused a tunnel to {host}: {shorten(f'{error.status} {error.reason}', 80)}",
            hint="check HTTPS_PROXY (and the credentials in it) and NO_PROXY",
        )
    ssl = sys.modules.get("ssl")  # loaded for the first https connection: without it, no TLS error can occur
    if ssl is not None and isinstance(error, ssl.SSLError):
        if isinstance(error, ssl.SSLCertVerificationError):
            reason = error.verify_message or "no reason given"
            return Unavailable(f"TLS with {host} failed: TLS certificate verify failed: {reason}", hint=TLS_HINT)
        if is_tls_cut(error):
            return TransportError("the TLS connection was cut")
        return Unavailable(f"TLS with {host} failed: {error.reason or 'handshake failed'}", hint=TLS_HINT)
    if isinstance(error, ConnectionRefusedError):
        return TransportError("connection refused")
    if isinstance(error, ConnectionError):
        return TransportError("connection reset")
    if isinstance(error, TimeoutError):
        return TransportError("no whole answer within the time limit" if late else "timed out")
    if isinstance(error, socket.gaierror):
        return TransportError(f"cannot resolve {host}")
    if isinstance(error, OSError):
        return TransportError(error.strerror.lower() if error.strerror else "network error")
    return None
