"""A small HTTP proxy in front of a registry (on the kit's loopback server), for what distribution 2.8 does not do.

It paginates tag lists (from a snapshot, as a database-backed registry would; in lexical order, or newest
first as GHCR does), demands Bearer tokens from its own token service, answers the OCI 1.1 referrers API, adds
latency, and injects 429/5xx with Retry-After, dropped connections, tampered answers and another client's
writes on request, or lets a test answer tag-list pages as another registry would (`tag_pages`); every request
passing it is logged.
"""

from __future__ import annotations

import base64
import bisect
import http.client
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests

from kit.images import OCI_INDEX
from kit.loopback import LoopbackServer, reply


@dataclass
class Fault:
    """Answer the next `times` requests whose method, path and query match with a failure instead of the registry.

    action `status`: that HTTP status (with Retry-After when given); `drop`: close the
    connection without an answer; `drop-after`: pass the request on, then drop the answer;
    `tamper`: pass the request on and add a byte to the body of the answer; `before`: call `run`,
    then pass the request on; `after`: pass the request on, call `run`, then answer (another
    client acting in between, as a concurrent run would).
    """

    action: str
    method: str | None = None
    path: str = ""
    status: int = 503
    retry_after: str | None = None
    times: int = 1
    run: Callable[[], None] | None = None
    query: str = ""  # a part of the query string the request must have

    def matches(self, method: str, path: str, query: str) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and self.path in path
            and self.query in query
        )


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    query: str
    outcome: str  # the status sent, or "dropped"
    auth_scheme: str | None
    body_bytes: int = 0  # the size of the request's body


_REPOSITORY = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags)/")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "host", "authorization", "proxy-connection"}


@dataclass
class FaultProxy:
    """Stands in front of the registry at `upstream`; every request passing it is logged in `log`."""

    upstream: str
    page_size: int | None = None  # paginate tag lists with pages of at most this many tags
    newest_first: bool = False  # list tags in reverse lexical order (newest CalVer first), as GHCR lists by time
    credentials: tuple[str, str] | None = None  # demand Bearer tokens obtained with these
    realm: str | None = None  # the token service named in challenges (default: this proxy's /token)
    latency: float = 0.0  # seconds added before each answer, as a registry across a network would take
    faults: list[Fault] = field(default_factory=list)
    log: list[Logged] = field(default_factory=list)
    requested_page_sizes: list[int] = field(default_factory=list)
    # (repository, the `last` of a Link this proxy sent) -> the tags its listing read: what a page after it reads
    tag_snapshots: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    tokens: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # token -> repository -> actions
    rewrite_location: bool = True  # False: upload sessions point straight at the registry, past the proxy
    referrers_api: bool = False  # answer the OCI 1.1 referrers API, as registries newer than distribution 2.8 do
    referrers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # subject digest -> descriptors
    # Another registry's answer to a paginated tag list: `tag_pages(handler, repository, params)` is asked first,
    # and either answers (through the handler's `_send` or `_challenge`, returning the status they return) or
    # returns None, and the proxy answers as usual. `params` is the request's parsed query.
    tag_pages: Callable[[BaseHTTPRequestHandler, str, dict[str, list[str]]], str | None] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = LoopbackServer(_handler_for(self))
        self.port, self.host = self._server.port, self._server.host

    def start(self) -> FaultProxy:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def inject(
        self,
        action: str,
        *,
        method: str | None = None,
        path: str = "",
        status: int = 503,
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        self.add(Fault(action, method, path, status, retry_after, times))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def take_fault(self, method: str, path: str, query: str = "") -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path, query):
                    fault.times -= 1
                    return fault
        return None

    def record(self, entry: Logged) -> None:
        with self._lock:
            self.log.append(entry)

    def count(self, method: str | None = None, path: str = "") -> int:
        return sum(1 for e in self.log if (method is None or e.method == method) and path in e.path)


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in separate writes: without this, Nagle's algorithm and the client's
            # delayed ACK add tens of milliseconds to every answer.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            self._handle()

        do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            if proxy.latency:
                time.sleep(proxy.latency)
            scheme = (self.headers.get("Authorization") or "").split(" ", 1)[0] or None
            outcome = self._route(parts.path, parts.query, body)
            proxy.record(Logged(self.command, parts.path, parts.query, outcome, scheme, len(body)))

        def _route(self, path: str, query: str, body: bytes) -> str:
            if path == "/token":
                return self._token(parse_qs(query))
            fault = proxy.take_fault(self.command, path, query)
            if fault is not None and fault.action == "before" and fault.run is not None:
                fault.run()
            if fault is not None and fault.action == "drop":
                self.close_connection = True
                return "dropped"
            if fault is not None and fault.action == "status":
                extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                code = "TOOMANYREQUESTS" if fault.status == 429 else "UNAVAILABLE"
                return self._json(fault.status, {"errors": [{"code": code, "message": "injected fault"}]}, extra)
            denied = self._check_token(path)
            if denied is not None:
                return denied
            match = _REPOSITORY.match(path)
            if proxy.page_size and match and path.endswith("/tags/list") and self.command == "GET":
                return self._tags_page(match.group(1), parse_qs(query))
            if proxy.referrers_api and self.command == "GET" and "/referrers/" in path:
                found = proxy.referrers.get(path.rsplit("/", 1)[1], [])
                index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found}
                return self._send(200, {"Content-Type": OCI_INDEX}, json.dumps(index).encode())
            status, headers, payload = self._upstream(path, query, body)
            if proxy.referrers_api and self.command == "PUT" and "/manifests/" in path and status == 201:
                headers.update(self._index_referrer(body, headers.get("Docker-Content-Digest", "")))
            if fault is not None and fault.action == "drop-after":
                self.close_connection = True
                return "dropped"
            if fault is not None and fault.action == "tamper":
                payload += b"\n"
            if fault is not None and fault.action == "after" and fault.run is not None:
                fault.run()
            return self._send(status, headers, payload)

        def _index_referrer(self, body: bytes, digest: str) -> dict[str, str]:
            """Keep a pushed manifest with a subject in the referrers index, and say so (OCI-Subject)."""
            document = json.loads(body)
            subject = document.get("subject")
            if not subject:
                return {}
            descriptor = {"mediaType": document["mediaType"], "digest": digest, "size": len(body)}
            descriptor |= {k: document[k] for k in ("artifactType", "annotations") if k in document}
            proxy.referrers.setdefault(subject["digest"], []).append(descriptor)
            return {"OCI-Subject": subject["digest"]}

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> str:
            reply(self, status, payload, headers)
            return str(status)

        def _json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> str:
            return self._send(
                status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(document).encode()
            )

        def _upstream(self, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
            """The registry's answer to this request: status, headers to pass on, body."""
            connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
            # Clients such as skopeo send several Accept lines: pass them on as one list.
            headers = {
                k: ", ".join(self.headers.get_all(k, []))
                for k in set(self.headers.keys())
                if k.lower() not in _HOP_HEADERS
            }
            connection.request(self.command, path + (f"?{query}" if query else ""), body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            connection.close()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS | {"content-length"}}
            if (
                "Location" in kept and proxy.rewrite_location
            ):  # as a reverse proxy does: upload sessions continue through the proxy
                kept["Location"] = kept["Location"].replace(f"//{proxy.upstream}/", f"//{proxy.host}/")
            if self.command == "HEAD":  # no body, but the length of the one a GET would have
                kept["Content-Length"] = response.getheader("Content-Length") or "0"
            return response.status, kept, payload

        def _tags_page(self, repository: str, params: dict[str, list[str]]) -> str:
            if proxy.tag_pages is not None:
                answered = proxy.tag_pages(self, repository, params)
                if answered is not None:
                    return answered
            page_size = int(proxy.page_size or 0)
            requested = int(params.get("n", [page_size])[0])
            proxy.requested_page_sizes.append(requested)
            size = min(requested, page_size)
            last = params.get("last", [None])[0]
            # A listing reads the registry once; the pages after it read that snapshot, as a database-backed
            # registry would, instead of listing every tag again. A `last` this proxy never put in a Link starts
            # a listing of its own (the tail of the list, say), on the registry as it is now.
            tags = proxy.tag_snapshots.get((repository, last)) if last is not None else None
            if tags is None:
                upstream = requests.get(f"http://{proxy.upstream}/v2/{repository}/tags/list", timeout=30)
                if upstream.status_code != 200:
                    return self._send(upstream.status_code, {"Content-Type": "application/json"}, upstream.content)
                tags = sorted(upstream.json().get("tags") or [], reverse=proxy.newest_first)
            if last is None:
                start = 0
            elif proxy.newest_first:  # after `last` in this order: the first tag below it
                start = next((i for i, tag in enumerate(tags) if tag < last), len(tags))
            else:
                start = bisect.bisect_right(tags, last)
            page, more = tags[start : start + size], len(tags) > start + size
            headers = {"Content-Type": "application/json"}
            if more:
                proxy.tag_snapshots[(repository, page[-1])] = tags
                # A listing from the first page says so in its Links (a client passes them back as they are), so
                # that a fault can match its pages (`query="last=…&listing=whole"`) and not a page of a listing
                # of the tail that ends at the same tag.
                whole = "&listing=whole" if last is None or params.get("listing") == ["whole"] else ""
                link = f"/v2/{repository}/tags/list?n={requested}&last={quote(page[-1])}{whole}"
                headers["Link"] = f'<{link}>; rel="next"'
            return self._send(200, headers, json.dumps({"name": repository, "tags": page}).encode())

        def _challenge(self, scope: str | None) -> str:
            value = f'Bearer realm="{proxy.realm or f"http://{proxy.host}/token"}",service="fault-proxy"'
            if scope:
                value += f',scope="{scope}"'
            return self._json(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                {"WWW-Authenticate": value},
            )

        def _check_token(self, path: str) -> str | None:
            if proxy.credentials is None:
                return None
            match = _REPOSITORY.match(path)
            repository = match.group(1) if match else None
            write = self.command in ("PUT", "POST", "PATCH", "DELETE")
            needed = "push" if write else "pull"
            scope = f"repository:{repository}:{'pull,push' if write else 'pull'}" if repository else None
            header = self.headers.get("Authorization") or ""
            token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
            with proxy._lock:
                grants = proxy.tokens.get(token or "")
            if grants is None or (repository is not None and needed not in grants.get(repository, set())):
                return self._challenge(scope)
            return None

        def _token(self, params: dict[str, list[str]]) -> str:
            header = self.headers.get("Authorization") or ""
            expected = base64.b64encode(":".join(proxy.credentials or ("", "")).encode()).decode()
            if header != f"Basic {expected}":
                return self._json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
            grants: dict[str, set[str]] = {}
            for scope in " ".join(params.get("scope", [])).split():
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                if kind == "repository":
                    grants.setdefault(name, set()).update(actions.split(","))
            token = secrets.token_hex(16)
            with proxy._lock:
                proxy.tokens[token] = grants
            return self._json(200, {"token": token, "access_token": token, "expires_in": 300})

    return Handler
