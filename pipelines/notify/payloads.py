"""A `Notice` as a Slack incoming webhook payload and as a Discord webhook payload, inside each service's limits.

Slack (Block Kit): a `header` block (plain text, at most 150 characters), `section` blocks of mrkdwn (at
most 3,000 characters each), a `context` block with the run link, and the top-level `text` as the
plain fallback notifications show; at most 50 blocks. All of it mrkdwn but the header, so Slack's control
characters `&<>` are escaped everywhere they are not ours: a `<!channel>` in a job name mentions nobody.
Discord: one embed with a colour per event: title at most 256 characters, description at most 4,096,
at most 25 fields (name 256, value 1,024), footer 2,048, and all of the embed's text at most 6,000.
Long details (a big changelog) are cut at a line where possible and marked, never refused: a
notification must not fail because the release had many commits.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.notify.events import COLOURS, Notice, next_step

SLACK_HEADER = 150
SLACK_SECTION = 3000
SLACK_FALLBACK = 3000
SLACK_BLOCKS = 50
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_FOOTER = 2048
DISCORD_TOTAL = 6000
MARK = "…"
CUT_NOTE = "\n… (cut to fit; the full text is in the run)"

_LINK = re.compile(r"\[([^\]\n]*)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_HEADING = re.compile(r"^#{1,6} +(.+)$", re.MULTILINE)
# What a cut can leave of an entity at the end of escaped text (`&am…`): shown as is, it would read as garbage.
_BROKEN_ENTITY = re.compile(r"&[a-z]{0,3}" + re.escape(MARK) + "$")


def truncate(text: str, limit: int, note: str = "") -> str:
    """`text` at most `limit` characters: whole when it fits, else cut at a line end (or anywhere) plus `note`."""
    if len(text) <= limit:
        return text
    suffix = note if len(note) < limit // 2 else MARK
    room = limit - len(suffix)
    cut = text.rfind("\n", 0, room + 1)
    head = text[:cut] if cut > room // 2 else text[:room]
    return head + suffix


def slack_escape(text: str) -> str:
    """`text` as Slack shows it literally: its three control characters `&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`
    (and nothing else: Slack decodes only these), so `<!channel>` or `<@U123>` in it mentions nobody."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_url(escaped: str) -> str:
    """An escaped URL fit for `<url|text>`: a `|` in it would end the address there, so it is sent as `%7C`."""
    return escaped.replace("|", "%7C")


def slack_text(markdown: str) -> str:
    """GitHub Markdown as Slack mrkdwn: links `<url|text>`, bold `*x*`, headings as bold lines; `&<>` escaped."""
    escaped = slack_escape(markdown)
    linked = _LINK.sub(lambda m: f"<{_slack_url(m.group(2))}|{m.group(1).replace('|', '¦')}>", escaped)
    return _HEADING.sub(r"*\1*", _BOLD.sub(r"*\1*", linked))


def facts(notice: Notice) -> list[tuple[str, str]]:
    """(name, Markdown value) of what the notice carries, in a fixed order."""
    found = [("Project", notice.project), ("Version", notice.version)]
    found += [("Digest", f"`{digest}`") for digest in notice.digests]
    found += [("File", f"`{name}`") for name in notice.files]
    if notice.job:
        found.append(("Job", f"`{notice.job}`"))
    if notice.log_url:
        found.append(("Log", notice.log_url))
    if notice.pull_request:
        found.append(("Pull request", notice.pull_request))
    if notice.run_url:
        found.append(("Run", notice.run_url))
    return found


def slack_payload(notice: Notice) -> dict[str, Any]:
    summary = "\n".join(f"*{name}:* {slack_text(value)}" for name, value in facts(notice))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(notice.headline, SLACK_HEADER, MARK)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(summary, SLACK_SECTION, CUT_NOTE)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(slack_text(next_step(notice)), SLACK_SECTION)}},
    ]
    if notice.details.strip():
        details = truncate(slack_text(notice.details.strip()), SLACK_SECTION, CUT_NOTE)
        blocks += [{"type": "divider"}, {"type": "section", "text": {"type": "mrkdwn", "text": details}}]
    if notice.run_url:
        link = f"<{_slack_url(slack_escape(notice.run_url))}|the run> · event `{notice.event.value}`"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    # The fallback is mrkdwn too (notifications show it): escaped like the blocks, then cut whole entities only.
    fallback = truncate(slack_escape(f"{notice.headline}. {next_step(notice)}"), SLACK_FALLBACK, MARK)
    return {"text": _BROKEN_ENTITY.sub(MARK, fallback), "blocks": blocks[:SLACK_BLOCKS]}


def discord_payload(notice: Notice) -> dict[str, Any]:
    title = truncate(notice.headline, DISCORD_TITLE, MARK)
    footer = truncate(f"event {notice.event.value}", DISCORD_FOOTER, MARK)
    fields: list[dict[str, Any]] = [
        {
            "name": truncate(name, DISCORD_FIELD_NAME, MARK),
            "value": truncate(value, DISCORD_FIELD_VALUE, MARK),
            "inline": name in ("Project", "Version"),
        }
        for name, value in facts(notice)[:DISCORD_FIELDS]
    ]
    used = len(title) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    # What is left of the 6,000 characters goes to the description: the next step, then the details.
    room = min(DISCORD_DESCRIPTION, DISCORD_TOTAL - used)
    description = next_step(notice) + (f"\n\n{notice.details.strip()}" if notice.details.strip() else "")
    embed: dict[str, Any] = {
        "title": title,
        "description": truncate(description, room, CUT_NOTE),
        "color": COLOURS[notice.event],
        "fields": fields,
        "footer": {"text": footer},
    }
    if notice.run_url:
        embed["url"] = notice.run_url
    # No mention in a commit message (@everyone, @user) pings anybody.
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}
