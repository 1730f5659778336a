"""Sending notifications to the webhooks in SLACK_WEBHOOK_URL and DISCORD_WEBHOOK_URL, through the one HTTP layer.

A webhook URL is a credential: its path IS the secret (`hooks.slack.com/services/T…/B…/<token>`,
`discord.com/api/webhooks/<id>/<token>`). It is read from the environment only, and never enters a
message: every error, progress line and server answer passes through `redact` with the URL's
secret parts (the whole URL, its path, query and every long path segment) before anyone sees it.

Retries are the HTTP layer's (429 with Retry-After, 5xx, within `POLICY`). What still fails is an
`Outcome` with a reason, never an exception: a notification never fails a release.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pipelines.core.errors import PipelineError
from pipelines.edges.http import HttpClient, RetryPolicy, Timeouts, is_loopback_host, redact, shorten

# Service name -> the environment variable that holds its webhook URL.
SERVICES = {"slack": "SLACK_WEBHOOK_URL", "discord": "DISCORD_WEBHOOK_URL"}
POLICY = RetryPolicy(max_time=60.0, max_attempts=5, base_delay=1.0, max_delay=15.0)
TIMEOUTS = Timeouts(connect=10.0, read=20.0, request=30.0)
MAX_ANSWER = 64 << 10  # "ok" or a short JSON error; more is not a webhook's answer


@dataclass(frozen=True)
class Webhook:
    service: str
    variable: str
    url: str = field(repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        return secret_parts(self.url)


@dataclass(frozen=True)
class Outcome:
    service: str
    sent: bool
    reason: str | None = None  # why it was not sent, already free of the URL's secrets


def secret_parts(url: str) -> tuple[str, ...]:
    """The parts of a webhook URL that must never be shown: the URL, its path and query, and long path segments."""
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if len(segment) >= 8]
    found = [url, parts.path, parts.query, parts.netloc.rpartition("@")[0], *segments]
    # Longest first: a segment inside the path must not break the path's own replacement.
    return tuple(sorted({s for s in found if len(s) >= 4}, key=len, reverse=True))


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook (in words that never quote it), or None."""
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        return "holds spaces, line breaks or characters a URL may not"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port raises for a bad one
    except ValueError:
        return "does not parse as a URL"
    if not parts.hostname:
        return "has no host"
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return "is not an https URL"
    return None


def webhooks_from(environ: Mapping[str, str]) -> list[Webhook]:
    """The webhooks configured in the environment (an empty variable is not configured)."""
    return [Webhook(service, name, environ[name].strip()) for service, name in SERVICES.items() if environ.get(name)]


def deliver(
    webhook: Webhook,
    payload: Mapping[str, Any],
    *,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POST `payload` as JSON to the webhook; an Outcome whether or not it arrived."""
    secrets = webhook.secrets
    problem = url_problem(webhook.url)
    if problem is not None:
        return Outcome(webhook.service, False, f"{webhook.variable} {problem}; set it to the webhook's URL")
    client = HttpClient(
        policy=POLICY,
        timeouts=TIMEOUTS,
        sleep=sleep,
        say=lambda line: say(redact(line, secrets)),
        describe=lambda response: redact(response.excerpt(), secrets),
    )
    body = json.dumps(payload).encode("utf-8")
    try:
        with client:
            response = client.request(
                "POST",
                webhook.url,
                headers={"Content-Type": "application/json"},
                body=body,
                max_body=MAX_ANSWER,
                what=f"the {webhook.service} webhook",
                hint="the notification was not delivered; the release is not affected",
            )
    except PipelineError as error:
        return Outcome(webhook.service, False, redact(error.message, secrets))
    if not response.ok:
        words = redact(shorten(response.body[:800].decode("utf-8", errors="replace"), 200), secrets)
        return Outcome(
            webhook.service, False, f"the {webhook.service} webhook answered HTTP {response.status}: {words}"
        )
    return Outcome(webhook.service, True)
