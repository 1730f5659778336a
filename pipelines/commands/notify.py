"""`notify EVENT`: tell the team's Slack and Discord channels about an RC build, a release, a deploy, a rollback
or a failure. Webhook URLs come from the environment only; a notification never fails a release (exit 0)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, path_argument
from pipelines.commands.environment import actions_run_url

EVENTS = ("rc-built", "released", "deployed", "rolled-back", "failed")
DETAILS_LIMIT = 1 << 20  # bytes of --details read; the payloads keep far less


@dataclass(frozen=True)
class NotifyRequest:
    event: str
    project: str
    version: str
    url: str | None
    details: Path | None
    digest: list[str]
    file: list[str]
    job: str | None
    log_url: str | None
    pr: str | None
    dry_run: bool
    json: bool


def _https(text: str) -> str:
    """An argparse type: a link for people (the run, a log, a pull request): https, or http to loopback."""
    from pipelines.notify.send import url_problem

    problem = url_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text[:200]!r} {problem}")
    return text


def _read_details(path: Path | None) -> tuple[str, str | None]:
    """The Markdown of --details (its first MiB), or "" and a warning: a missing file must not stop the notice."""
    if path is None:
        return "", None
    from pipelines.core.errors import InputError
    from pipelines.edges.files import open_regular

    try:
        with open_regular(path, what="--details", fix="pass the Markdown file") as handle:
            data = handle.read(DETAILS_LIMIT)
    except InputError as error:  # not a regular file (a FIFO would block the notice forever), or unreadable
        return "", f"{error.message}; sending without it"
    except OSError as error:
        return "", f"--details {path} was not read ({error.strerror or 'unreadable'}); sending without it"
    return data.decode("utf-8", errors="replace"), None


def _warn(message: str) -> None:
    from pipelines.output import workflow_command

    print(f"warning: {message}", file=sys.stderr)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        workflow_command("warning", message, title="notification not sent")


def _notify(request: NotifyRequest) -> int:
    import json

    from pipelines.notify.events import Event, Notice, make_notice
    from pipelines.notify.payloads import discord_payload, slack_payload
    from pipelines.notify.send import deliver, webhooks_from
    from pipelines.output import emit, progress

    details, problem = _read_details(request.details)
    notice = make_notice(
        Notice(
            event=Event(request.event),
            project=request.project,
            version=request.version,
            run_url=request.url or actions_run_url(),
            digests=tuple(request.digest),
            files=tuple(request.file),
            job=request.job,
            log_url=request.log_url,
            pull_request=request.pr,
            details=details,
        )
    )
    warnings = [problem] if problem else []
    payloads = {"slack": slack_payload(notice), "discord": discord_payload(notice)}
    data: dict[str, Any] = {"event": notice.event.value, "project": notice.project, "version": notice.version}
    if request.dry_run:
        data["payloads"] = payloads
        emit(request.json, data, json.dumps(payloads, indent=2))
        return 0
    webhooks = webhooks_from(os.environ)
    lines = []
    if not webhooks:
        lines.append("no webhook configured (SLACK_WEBHOOK_URL, DISCORD_WEBHOOK_URL): nothing sent")
    outcomes = [deliver(hook, payloads[hook.service], say=progress) for hook in webhooks]
    for outcome in outcomes:
        if outcome.sent:
            lines.append(f"{outcome.service}: sent {notice.headline}")
        else:
            warnings.append(f"{outcome.service}: not sent: {outcome.reason}")
    for warning in warnings:
        _warn(warning)
    data.update(
        sent=[o.service for o in outcomes if o.sent],
        not_sent=[{"service": o.service, "reason": o.reason} for o in outcomes if not o.sent],
        warnings=warnings,
    )
    emit(request.json, data, "\n".join(lines) or "nothing sent")
    return 0


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "notify",
        summary="send a release event to the Slack and Discord webhooks",
        request=NotifyRequest,
        run=_notify,
        description="Send EVENT (rc-built, released, deployed, rolled-back, failed) for PROJECT's VERSION to\n"
        "the webhooks in SLACK_WEBHOOK_URL (Block Kit, with a plain text fallback) and DISCORD_WEBHOOK_URL\n"
        "(an embed, one colour per event). Each message says what happened, the digests or files, the\n"
        "run's link, and what a person should do next. Long details are cut to each service's limits.\n"
        "The URLs are secrets: they come from the environment only and never appear in output.\n"
        "Neither variable set: nothing is sent (exit 0). A webhook that still fails after retries (429,\n"
        "5xx) is a warning, exit 0: a notification never fails a release. Bad usage is exit 2.",
        examples="  python -m pipelines notify released --project percolate --version 0.2.0 \\\n"
        "      --digest index=sha256:… --pr https://github.com/percolation-labs/percolate/pull/7 --details notes.md\n"
        "  python -m pipelines notify failed --project percolate-rocks --version 0.3.0rc1 --job build-wheels\n"
        "  python -m pipelines notify rolled-back --project percolate-reading --version 0.4.0 --pr URL --dry-run",
    )
    parser.add_argument("event", choices=EVENTS, metavar="EVENT", help=f"one of: {', '.join(EVENTS)}")
    parser.add_argument("--project", required=True, metavar="P", help="the catalog project")
    parser.add_argument("--version", required=True, metavar="V", help="its version (rolled-back: the blocked one)")
    parser.add_argument(
        "--url", type=_https, metavar="U", help="the run's page (default: this Actions run, from GITHUB_* variables)"
    )
    parser.add_argument(
        "--details", type=path_argument, metavar="FILE", help="Markdown to include, e.g. the release notes"
    )
    parser.add_argument("--digest", action="append", default=[], metavar="D", help="an image digest (repeatable)")
    parser.add_argument("--file", action="append", default=[], metavar="NAME", help="a released file (repeatable)")
    parser.add_argument("--job", metavar="NAME", help="failed: the job that failed (required for failed)")
    parser.add_argument("--log-url", type=_https, metavar="U", help="failed: the job's log (default: the run)")
    parser.add_argument(
        "--pr",
        type=_https,
        metavar="URL",
        help="rolled-back: the rollback pull request (required); released: the deploy PR",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the payloads; send nothing")
