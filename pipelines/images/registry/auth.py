"""How a registry lets us in: its `WWW-Authenticate` challenge answered with a Bearer token or Basic.

On a 401 the client hands the answer to `Authenticator.answer`; from then on every request
to that repository carries `Authenticator.header(repository)`. A Bearer challenge sends us
to a token service (HTTPS only, or loopback), which is asked once per realm, service and
scope; the token is cached until shortly before it expires, and dropped when the registry
answers 401 again. `push` widens a `pull` scope to `pull,push` up front, so that one token
serves a repository's reads and writes. Also here: `registry_errors`, the registry's error
document as people read it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from pipelines.core.errors import Corrupt, Unauthorized
from pipelines.core.secrets import remember
from pipelines.core.values import Value, field
from pipelines.edges.http import (
    MAX_HEADER_VALUE,
    Response,
    basic_authorization,
    is_clean_credential,
    is_loopback_host,
    message_url,
    shorten,
    status_error,
)
from pipelines.images.registry.credentials import CREDENTIAL_SOURCES, Credentials

_CHALLENGE_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")

TokenKey = tuple[str, str, str]  # realm, service, scope
SendToken = Callable[[str, Mapping[str, str], Mapping[str, str]], Response]  # url, params, headers -> answer


def registry_errors(response: Response) -> str:
    """The registry's `{"errors": [{"code", "message"}]}` as `CODE: message`, else the start of the body.

    The credentials and tokens sent are secrets the process remembers: `shorten` redacts them first.
    """
    try:
        errors = response.json().get("errors") or []
        described = [f"{e.get('code', '?')}: {e.get('message', '')}".strip() for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError, TypeError):
        described = []
    return shorten("; ".join(described)) or shorten(response.reason) or "no details"


class Challenge(Value):
    scheme: str  # lower case: "bearer" or "basic"
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge:
    """Parse a `WWW-Authenticate` value such as `Bearer realm="…",service="…",scope="…"`."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _CHALLENGE_PARAM.match(rest, position)
        if not match or match.end() == position:
            break
        key, value = match.groups()
        if value.startswith('"'):
            value = _ESCAPE.sub(r"\1", value[1:-1])
        params[key.lower()] = value
        position = match.end()
    return Challenge(scheme.lower(), params)


class Token(Value):
    value: str = field(repr=False)
    expires_at: float  # on the client's monotonic clock


class Authenticator:
    """The credentials and tokens of one registry host; `send` fetches a token (a counted, retried GET)."""

    def __init__(
        self,
        host: str,
        credentials: Credentials | None,
        *,
        push: bool,
        send: SendToken,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.credentials = credentials
        self._push = push
        self._send = send
        self._clock = clock
        if credentials is not None:  # what we send that no output may show: the password and its Basic form
            remember(credentials.password)
            remember(basic_authorization(credentials.username, credentials.password).split(" ", 1)[1])
        self._tokens: dict[TokenKey, Token] = {}
        self._token_key: dict[str, TokenKey] = {}  # repository -> the token key that serves it
        self._basic = False
        # Requests sent at once share one token: the first that finds none fetches it, the others wait for it.
        self._fetching = threading.Lock()

    def header(self, repository: str) -> dict[str, str]:
        """The Authorization header for a request about `repository`: none until a challenge asked for one."""
        if self._basic and self.credentials is not None:
            return {"Authorization": basic_authorization(self.credentials.username, self.credentials.password)}
        key = self._token_key.get(repository)
        if key is None:
            return {}
        token = self._tokens.get(key)
        if token is None or token.expires_at <= self._clock():
            with self._fetching:
                token = self._tokens.get(key)
                if token is None or token.expires_at <= self._clock():
                    token = self._fetch_token(*key)
        return {"Authorization": f"Bearer {token.value}"}

    def answer(self, response: Response, repository: str, refused: str | None = None) -> None:
        """Take in a 401's challenge so that the request can be sent again with `header(repository)`.

        `refused` is the Authorization the 401 answered: only that token is dropped, so a late 401 of a request
        sent at once with others does not throw away the token another thread has fetched since.
        """
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge.scheme == "basic":
            if self.credentials is None:
                raise self.credentials_needed(repository)
            self._basic = True
            return
        if challenge.scheme != "bearer" or not challenge.params.get("realm"):
            raise Corrupt(
                f"{self.host} asks for authentication this client does not speak: {challenge.scheme or 'no challenge'}",
                hint="registries speak Bearer tokens or Basic authentication",
            )
        scope = challenge.params.get("scope", "")
        if self._push and scope.startswith("repository:") and scope.endswith(":pull"):
            scope += ",push"
        key = (challenge.params["realm"], challenge.params.get("service", ""), scope)
        with self._fetching:  # a 401 means the token we sent, if any, no longer serves
            current = self._tokens.get(key)
            if current is not None and refused == f"Bearer {current.value}":
                del self._tokens[key]
        self._token_key[repository] = key

    def credentials_needed(self, what: str) -> Unauthorized:
        return Unauthorized(
            f"{self.host} requires credentials for {what}, and none were found", hint=f"set {CREDENTIAL_SOURCES}"
        )

    def _fetch_token(self, realm: str, service: str, scope: str) -> Token:
        try:
            parts = urlsplit(realm)
            parts.port  # noqa: B018 - parsing the port raises for a bad one
        except ValueError:
            raise Corrupt(
                f"{self.host} sends us to a token service whose address does not parse", hint="check --registry"
            ) from None
        if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(parts.hostname)):
            raise Unauthorized(
                f"{self.host} sends us to the token service {message_url(realm)}, which is not HTTPS",
                hint="credentials only travel over HTTPS (plain HTTP only on loopback)",
            )
        params = {name: value for name, value in (("service", service), ("scope", scope)) if value}
        headers = {}
        if self.credentials is not None:
            headers["Authorization"] = basic_authorization(self.credentials.username, self.credentials.password)
        response = self._send(realm, params, headers)
        if response.status in (401, 403):
            if self.credentials is None:
                raise self.credentials_needed(scope)
            raise Unauthorized(
                f"the token service of {self.host} refused the credentials from {self.credentials.source} "
                f"for {scope or 'this registry'} ({registry_errors(response)})",
                hint=f"check them; credentials come from {CREDENTIAL_SOURCES}",
            )
        if not response.ok:
            raise status_error(
                response.status,
                f"could not get a token from {message_url(realm)}: HTTP {response.status} from {self.host} "
                f"({registry_errors(response)})",
            )
        try:
            body = response.json()
            value = body.get("token") or body.get("access_token")
            lifetime = min(float(body.get("expires_in") or 60), 86400.0)
        except (ValueError, AttributeError, TypeError, OverflowError):
            value = None
        if not isinstance(value, str) or not value:
            raise Corrupt(f"the token service {message_url(realm)} answered without a token", hint="re-run promote")
        if len(value) > MAX_HEADER_VALUE:  # it is remembered in every spelling and sent with each request
            raise Corrupt(
                f"the token service {message_url(realm)} answered with a token over {MAX_HEADER_VALUE} characters",
                hint="the token service is broken or not the registry's; check --registry",
            )
        if not is_clean_credential(value) or not value.isascii():
            # Never echoed: a token with a line break would smuggle headers into every request.
            raise Corrupt(
                f"the token service {message_url(realm)} answered with a token holding control or non-ASCII characters",
                hint="the token service is broken or not the registry's; check --registry",
            )
        remember(value)
        token = Token(value, self._clock() + max(lifetime - 5, 1))  # renew a little early
        self._tokens[(realm, service, scope)] = token
        return token
