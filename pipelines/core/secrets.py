"""The process's secrets and the one redaction every printed byte passes through.

A credential enters the process in a few places (the environment, a Docker config, a kubeconfig,
a token service's answer, a webhook URL); each calls `remember` with it. The CLI's output boundary
(`pipelines.output`) runs `redact` on everything it prints, and `shorten` (the one place a server's
words are cut to length) runs it before it cuts.

A server may echo what it was sent in another spelling, and a message may be cut anywhere, so a
secret is known in every spelling it travels in (`spellings`: raw, percent-encoded in either case and
twice, percent-decoded, JSON- and HTML-escaped, base64 at each alignment), and `redact` removes every run
of `WINDOW` or more
characters that appears in any spelling, not only whole ones: what a cut leaves of a secret, on
either side of the cut, is shorter than `WINDOW`, or it is redacted. Secrets shorter than `WINDOW`
(but at least `SHORTEST`) are replaced where they appear whole.
"""

from __future__ import annotations

import os
from _thread import allocate_lock  # threading's Lock without importing threading: `tag parse` starts fast
from collections.abc import Mapping

WINDOW = 8
SHORTEST = 4  # shorter values (a port, "true") are no secret worth hiding, and would blank out text
MASK = "***"
MASK_PASSES = 4  # masking again only matters for a secret that itself holds `***`; bounded, so never quadratic

# Variables that hold a credential by name, and the name endings that say a variable does.
SECRET_VARIABLES = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "PERCOLATE_GIT_PAT",
    "REGISTRY_PASSWORD",
    "PULUMI_ACCESS_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "SLACK_WEBHOOK_URL",
    "DISCORD_WEBHOOK_URL",
)
SECRET_ENDINGS = (
    "_TOKEN",
    "_PASSWORD",
    "_PASSPHRASE",
    "_SECRET",
    "_PAT",
    "_WEBHOOK_URL",
    "_API_KEY",
    "_ACCESS_KEY",
    "_PRIVATE_KEY",
)


def spellings(secret: str) -> set[str]:
    """The forms `secret` may travel in: raw, percent-decoded, percent-encoded (upper and lower hex, once and
    twice), form-encoded (a space as `+`, as a token service's form body carries a password), JSON-escaped,
    HTML-escaped (named and numeric entities), and base64 and base64url at each of its three alignments (inside
    `user:password` or a longer header)."""
    import json
    from html import escape
    from urllib.parse import quote, quote_plus, unquote, unquote_plus

    forms = {secret, unquote(secret), unquote_plus(secret)}
    for form in list(forms):
        encoded = quote(form, safe="", errors="surrogateescape")
        twice = quote(encoded, safe="")
        plus = quote_plus(form, safe="", errors="surrogateescape")
        forms |= {encoded, _lower_hex(encoded), twice, _lower_hex(twice), plus, _lower_hex(plus)}
        forms |= {quote(form, safe="/:@", errors="surrogateescape")}
        forms |= {escape(form), "".join(c if c.isalnum() else f"&#{ord(c)};" for c in form)}
    for form in list(forms):
        escaped = json.dumps(form)[1:-1]
        forms |= {escaped, escaped.replace("/", "\\/"), json.dumps(form, ensure_ascii=False)[1:-1]}
    forms |= _base64_forms(secret)
    return {form for form in forms if len(form) >= SHORTEST}


def _base64_forms(secret: str) -> set[str]:
    """The base64 characters that depend on `secret`'s bytes alone, wherever in a longer value it starts: at
    each offset 0, 1, 2 the group that mixes in a byte before it, and the last group, are left out."""
    import base64

    data = secret.encode("utf-8", errors="surrogateescape")
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode()[4 if offset else 0 : -4]
        forms |= {encoded, encoded.replace("+", "-").replace("/", "_")}
    return {form for form in forms if len(form) >= WINDOW}


def _lower_hex(encoded: str) -> str:
    """`%2F` -> `%2f`: a server may re-encode with lower-case hex digits."""
    import re

    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group().lower(), encoded)


def url_secrets(url: str) -> tuple[str, ...]:
    """The secret parts of a URL that is a credential (a webhook): its user info, its query, and its path from
    the first segment that is not a plain word on (`/services/` and `/api/webhooks/` are not secret; the ids
    and the token after them are), whole and segment by segment."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return (url,)
    segments = parts.path.split("/")
    secret = [i for i, segment in enumerate(segments) if segment and not (segment.isalpha() and segment.islower())]
    found = [parts.netloc.rpartition("@")[0], parts.query]
    if secret:
        found += ["/".join(segments[secret[0] :]), *(segments[i] for i in secret)]
    return tuple(part for part in found if part)


class Secrets:
    """A set of secrets in all their spellings; `redact` takes them out of text. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._whole: set[str] = set()  # spellings shorter than WINDOW, replaced only whole
        self._windows: set[str] = set()  # every WINDOW-long run of every longer spelling

    def remember(self, secret: str | None) -> None:
        if not secret or len(secret) < SHORTEST:
            return
        forms = spellings(secret)
        with self._lock:
            for form in forms:
                if len(form) < WINDOW:
                    self._whole.add(form)
                else:
                    self._windows.update(form[i : i + WINDOW] for i in range(len(form) - WINDOW + 1))

    def remember_url(self, url: str | None) -> None:
        if url:
            for part in url_secrets(url.strip()):
                self.remember(part)

    def redact(self, text: str) -> str:
        """`text` with every run of a secret's spelling at least WINDOW long, and every whole short one, masked."""
        with self._lock:
            windows, whole = self._windows, tuple(sorted(self._whole, key=len, reverse=True))
        if not windows and not whole:
            return text
        for _pass in range(MASK_PASSES):  # a mask next to a secret's remains could make a new run of it
            masked = _mask_runs(text, windows)
            for form in whole:
                masked = masked.replace(form, MASK)
            if masked == text:
                break
            text = masked
        return text


def _mask_runs(text: str, windows: set[str]) -> str:
    """`text` with each stretch covered by WINDOW-long runs found in `windows` replaced by one MASK."""
    spans: list[list[int]] = []
    for i in range(len(text) - WINDOW + 1):
        if text[i : i + WINDOW] in windows:
            end = i + WINDOW
            if text[end - 1] == "\\" and end < len(text):
                end += 1  # never leave the character an escape applies to (JSON stays JSON)
            if spans and i <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                start = i
                while start > 0 and text[start - 1] == "\\":  # nor the escape that applies to its first character
                    start -= 1
                spans.append([start, end])
    if not spans:
        return text
    pieces, start = [], 0
    for begin, end in spans:
        pieces += [text[start:begin], MASK]
        start = end
    return "".join([*pieces, text[start:]])


# The process's secrets: what the CLI's output boundary redacts. Each command pushes a set of its own.
_SETS: list[Secrets] = [Secrets()]


def remember(secret: str | None) -> None:
    """Add a credential this process holds to the secrets no output may show."""
    _SETS[-1].remember(secret)


def remember_url(url: str | None) -> None:
    """Add the secret parts of a credential URL (a webhook) to the secrets no output may show."""
    _SETS[-1].remember_url(url)


def redact(text: str) -> str:
    """`text` without any of the process's secrets, in any spelling, whole or cut."""
    return _SETS[-1].redact(text)


class command_secrets:
    """The secrets of one command (`with command_secrets():`): those of the environment, and whatever the
    command remembers while it runs. A test that runs several commands in one process gives each its own."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def __enter__(self) -> Secrets:
        _SETS.append(Secrets())
        remember_environment(self._environ)
        return _SETS[-1]

    def __exit__(self, *exc: object) -> None:
        _SETS.pop()


def remember_environment(environ: Mapping[str, str] | None = None) -> None:
    """Remember the credentials the environment holds, by the variables' names."""
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if name in SECRET_VARIABLES or name.endswith(SECRET_ENDINGS):
            if name.endswith("_URL"):
                remember_url(value)
            else:
                remember(value.strip())
