"""Sending notifications to the webhooks in SLACK_WEBHOOK_URL and DISCORD_WEBHOOK_URL, through the one HTTP layer.

A webhook URL is a credential: its path IS the secret (`hooks.slack.com/services/T…/B…/<token>`,
`discord.com/api/webhooks/<id>/<token>`). It is read from the environment only and remembered as a
secret (`pipelines.core.secrets`): the output boundary redacts its parts, in any spelling and cut
anywhere, from everything printed, and a server's answer is redacted before it is shortened.

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
from pipelines.core.secrets import remember_url
from pipelines.edges.http import HttpClient, RetryPolicy, Timeouts, is_loopback_host, shorten

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


@dataclass(frozen=True)
class Outcome:
    service: str
    sent: bool
    reason: str | None = None  # why it was not sent (the output boundary redacts the URL's secrets)


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
    """The webhooks configured in the environment (an empty variable is not configured); each is remembered
    as a secret before anything can print it."""
    webhooks = [
        Webhook(service, name, environ[name].strip()) for service, name in SERVICES.items() if environ.get(name)
    ]
    for webhook in webhooks:
        remember_url(webhook.url)
    return webhooks


def deliver(
    webhook: Webhook,
    payload: Mapping[str, Any],
    *,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """POST `payload` as JSON to the webhook; an Outcome whether or not it arrived."""
    problem = url_problem(webhook.url)
    if problem is not None:
        return Outcome(webhook.service, False, f"{webhook.variable} {problem}; set it to the webhook's URL")
    client = HttpClient(
        policy=POLICY,
        timeouts=TIMEOUTS,
        sleep=sleep,
        say=say,
        describe=lambda response: response.excerpt(),
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
        return Outcome(webhook.service, False, error.message)
    if not response.ok:
        words = shorten(response.body.decode("utf-8", errors="replace"), 200)
        return Outcome(
            webhook.service, False, f"the {webhook.service} webhook answered HTTP {response.status}: {words}"
        )
    return Outcome(webhook.service, True)
