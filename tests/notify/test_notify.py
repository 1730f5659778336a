"""`notify` against real local HTTP receivers (the kit's recording server on 127.0.0.1) standing in for Slack's and
Discord's webhooks: the payload shapes, truncation to each service's limits, retries (429 with Retry-After,
500 forever), and a webhook URL (whose path is the secret) that never reaches output, with or without --json."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kit.loopback import RecordingHandler, RecordingServer, reply
from pipelines.cli import main
from pipelines.edges.retry import RetryPolicy
from pipelines.notify import send
from pipelines.notify.events import COLOURS, Event, Notice, next_step
from pipelines.notify.payloads import discord_payload, slack_payload
from tests.conftest import run_cli

TOKEN = "XyZsecretTOKEN0123456789"


class Receiver:
    """A webhook on loopback (the kit's recording server): `seen` holds (time, path, JSON body) of each request,
    the nth answered from a script, script(n) = (status, headers, body)."""

    def __init__(self, script: Callable[[int], tuple[int, dict[str, str], bytes]]) -> None:
        def answer(handler: RecordingHandler) -> None:
            status, headers, body = script(len(self.server.seen))
            reply(handler, status, body, headers)

        self.server = RecordingServer(answer).start()

    @property
    def seen(self) -> list[tuple[float, str, Any]]:
        return [(seen.at, seen.path, json.loads(seen.body)) for seen in self.server.seen]

    def url(self, path: str) -> str:
        return self.server.url + path

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(script: Callable[[int], tuple[int, dict[str, str], bytes]] = lambda n: (200, {}, b"ok")) -> Receiver:
        made.append(Receiver(script))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL", "GITHUB_ACTIONS", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(send, "POLICY", RetryPolicy(max_time=20.0, max_attempts=3, base_delay=0.01, max_delay=0.02))


def notify(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["notify", *args])
    out, err = capsys.readouterr()
    return code, out, err


RELEASED = [
    "released",
    "--project",
    "percolate",
    "--version",
    "0.2.0",
    "--url",
    "https://github.com/o/r/actions/runs/1",
]


def test_both_services_get_their_documented_shape(receivers, monkeypatch, capsys, tmp_path):
    slack, discord = receivers(), receivers(lambda n: (204, {}, b""))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url(f"/services/T1/B2/{TOKEN}"))
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", discord.url(f"/api/webhooks/1/{TOKEN}"))
    notes = tmp_path / "notes.md"
    notes.write_text(
        "### Features\n\n- **api:** search ([#12](https://github.com/o/r/pull/12)) by [@ada](https://github.com/ada)\n"
    )
    digest = "index=sha256:" + "a" * 64
    code, out, err = notify(capsys, *RELEASED, "--digest", digest, "--details", str(notes))
    assert (code, err) == (0, "")
    assert out == "slack: sent Released: percolate 0.2.0\ndiscord: sent Released: percolate 0.2.0\n"
    [(_, path, payload)] = slack.seen
    assert path == f"/services/T1/B2/{TOKEN}"
    assert payload["text"].startswith("Released: percolate 0.2.0. Review and merge the deploy pull request")
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "section", "divider", "section", "context"]
    assert payload["blocks"][1]["text"]["text"] == (
        f"*Project:* percolate\n*Version:* 0.2.0\n*Digest:* `{digest}`\n*Run:* https://github.com/o/r/actions/runs/1"
    )
    assert payload["blocks"][4]["text"]["text"] == (
        "*Features*\n\n- *api:* search (<https://github.com/o/r/pull/12|#12>) by <https://github.com/ada|@ada>"
    )
    [(_, _, embed_payload)] = discord.seen
    [embed] = embed_payload["embeds"]
    assert embed["color"] == COLOURS[Event.RELEASED] and embed["url"] == "https://github.com/o/r/actions/runs/1"
    assert embed["title"] == "Released: percolate 0.2.0"
    assert embed["description"].endswith("[#12](https://github.com/o/r/pull/12)) by [@ada](https://github.com/ada)")
    assert [f["name"] for f in embed["fields"]] == ["Project", "Version", "Digest", "Run"]
    assert embed_payload["allowed_mentions"] == {"parse": []}


def test_each_event_has_its_own_colour_and_says_what_to_do_next():
    assert len(set(COLOURS.values())) == len(Event)
    failed = Notice(Event.FAILED, "percolate-rocks", "0.3.0rc1", run_url="https://x.test/run", job="build-wheels")
    assert "Job `build-wheels` failed: read its log (https://x.test/run)" in slack_payload(failed)["text"]
    rolled = Notice(Event.ROLLED_BACK, "percolate", "0.2.0", pull_request="https://x.test/pull/9")
    assert "0.2.0 failed its health gate and is blocked" in discord_payload(rolled)["embeds"][0]["description"]
    assert "https://x.test/pull/9" in discord_payload(rolled)["embeds"][0]["description"]
    rc = Notice(Event.RC_BUILT, "percolate", "0.2.0rc3")
    assert "push the release tag `percolate-v0.2.0`" in slack_payload(rc)["text"]


@settings(max_examples=40)
@given(st.text(max_size=20000), st.text(min_size=1, max_size=3000), st.lists(st.text(min_size=1), max_size=40))
def test_any_details_and_fields_fit_the_services_limits(details, job, files):
    notice = Notice(
        Event.FAILED, "percolate", "1.0.0", run_url="https://x.test/r", job=job, files=tuple(files), details=details
    )
    slack = slack_payload(notice)
    assert len(slack["blocks"]) <= 50 and len(slack["text"]) <= 3000
    assert len(slack["blocks"][0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in slack["blocks"] if b["type"] == "section")
    embed = discord_payload(notice)["embeds"][0]
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096 and len(embed["fields"]) <= 25
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    # What Discord counts against an embed's 6,000 characters: title, description, fields, footer.
    counted = sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert len(embed["title"]) + len(embed["description"]) + counted + len(embed["footer"]["text"]) <= 6000


def test_a_long_changelog_is_cut_and_marked_not_refused(receivers, monkeypatch, capsys, tmp_path):
    slack = receivers()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url("/services/T/B/long"))
    notes = tmp_path / "notes.md"
    notes.write_text("".join(f"- change number {i}\n" for i in range(5000)))
    code, _, _ = notify(capsys, *RELEASED, "--details", str(notes))
    details = slack.seen[0][2]["blocks"][4]["text"]["text"]
    assert code == 0 and len(details) <= 3000
    assert details.endswith("… (cut to fit; the full text is in the run)")
    assert "- change number 0\n" in details


def test_429_with_retry_after_is_waited_out_then_sent(receivers, monkeypatch, capsys):
    discord = receivers(lambda n: (429, {"Retry-After": "1"}, b'{"retry_after": 1}') if n == 1 else (204, {}, b""))
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", discord.url(f"/api/webhooks/1/{TOKEN}"))
    code, out, err = notify(capsys, *RELEASED)
    assert code == 0 and out == "discord: sent Released: percolate 0.2.0\n"
    assert len(discord.seen) == 2 and discord.seen[1][0] - discord.seen[0][0] >= 1.0
    assert "HTTP 429" in err and TOKEN not in err


def test_500_forever_is_a_warning_and_exit_0_without_the_url(receivers, monkeypatch, capsys):
    slack = receivers(lambda n: (500, {}, f"internal error at /services/T1/B2/{TOKEN}".encode()))
    url = slack.url(f"/services/T1/B2/{TOKEN}")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", url)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for extra in ([], ["--json"]):
        code, out, err = notify(capsys, *RELEASED, *extra)
        assert code == 0
        assert "warning: slack: not sent: the slack webhook: HTTP 500" in err
        assert "::warning title=notification not sent::slack: not sent" in err
        for shown in (out, err):
            assert TOKEN not in shown and "/services/T1/B2" not in shown and url not in shown
    assert len(slack.seen) == 2 * send.POLICY.max_attempts
    data = json.loads(out)
    assert data["sent"] == [] and data["not_sent"][0]["service"] == "slack"


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:9/services/T1/B2/{TOKEN}",  # nothing listens: connection refused
        f"http://hooks.slack.test/services/T1/B2/{TOKEN}",  # plain http off loopback
        f"https://hooks.slack.com/services/T1/B2/{TOKEN} trailing",  # a space
        f"https://user:{TOKEN}@hooks.slack.com:99999/x",  # a bad port
    ],
)
def test_a_broken_webhook_url_is_never_printed_even_in_errors(url):
    for extra in ([], ["--json"]):
        result = run_cli(*["notify", *RELEASED, *extra], env={"SLACK_WEBHOOK_URL": url})
        assert result.code == 0, result.stderr
        assert "slack: not sent" in result.stderr
        assert TOKEN not in result.stdout + result.stderr


def test_no_webhook_configured_sends_nothing_and_says_so_in_one_line(capsys):
    assert notify(capsys, *RELEASED) == (
        0,
        "no webhook configured (SLACK_WEBHOOK_URL, DISCORD_WEBHOOK_URL): nothing sent\n",
        "",
    )


def test_dry_run_prints_the_payloads_and_sends_nothing(receivers, monkeypatch, capsys):
    slack = receivers()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url(f"/services/T1/B2/{TOKEN}"))
    code, out, _ = notify(
        capsys, "failed", "--project", "percolate-rocks", "--version", "0.3.0rc1", "--job", "wheels", "--dry-run"
    )
    payloads = json.loads(out)
    assert code == 0 and slack.seen == [] and TOKEN not in out
    assert payloads["discord"]["embeds"][0]["color"] == COLOURS[Event.FAILED]
    assert payloads["slack"]["blocks"][0]["text"]["text"] == "Failed: percolate-rocks 0.3.0rc1"


def test_a_missing_details_file_is_a_warning_and_the_notice_still_goes(receivers, monkeypatch, capsys, tmp_path):
    slack = receivers()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url("/services/T/B/x"))
    code, out, err = notify(capsys, *RELEASED, "--details", str(tmp_path / "absent.md"))
    assert code == 0 and out.startswith("slack: sent") and len(slack.seen) == 1
    assert "sending without it" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["failed", "--project", "percolate", "--version", "1.0.0"], "--job"),
        (["rolled-back", "--project", "percolate", "--version", "1.0.0"], "--pr"),
        (["released", "--project", "nope", "--version", "1.0.0"], "unknown project"),
        (["released", "--project", "percolate", "--version", "1.0 0"], "not a version"),
    ],
)
def test_bad_usage_is_exit_2_and_sends_nothing(receivers, monkeypatch, capsys, args, words):
    slack = receivers()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url("/services/T/B/x"))
    code, _, err = notify(capsys, *args)
    assert code == 2 and words in err and slack.seen == []


@pytest.mark.parametrize(
    ("version", "shown"), [("percolate-v0.2.0-rc3", "0.2.0rc3"), ("percolate-v1.0.0", "1.0.0"), ("0.2.0", "0.2.0")]
)
def test_a_tag_of_the_project_stands_for_its_version(capsys, version, shown):
    code, out, _ = notify(capsys, "deployed", "--project", "percolate", "--version", version, "--dry-run")
    assert code == 0 and json.loads(out)["slack"]["blocks"][0]["text"]["text"] == f"Deployed: percolate {shown}"


def test_a_tag_of_another_project_is_refused(capsys):
    code, _, err = notify(capsys, "deployed", "--project", "percolate", "--version", "percolate-reading-v1.0.0")
    assert code == 2 and "is a tag of percolate-reading" in err


def test_a_link_that_is_not_https_is_refused_by_the_parser():
    result = run_cli("notify", "released", "--project", "percolate", "--version", "1.0.0", "--url", "http://x.test/run")
    assert result.code == 2 and "not an https URL" in result.stderr


ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def test_mentions_and_slacks_control_characters_reach_no_one_raw():
    mention = "<!channel> & <@U024BE7LH|bob> <!here>"
    failed = Notice(
        Event.FAILED,
        "percolate",
        "1.0.0<!everyone>",
        run_url="https://x.test/r?a=1&b=2|x><!channel>",
        job=mention,
        log_url="https://x.test/log?a=<!channel>&b",
    )
    released = Notice(
        Event.RELEASED,
        "percolate",
        "0.2.0",
        pull_request="https://x.test/pull/9><!channel>",
        details="[the notes](https://x.test/a|b) <!channel>",
    )
    for notice in (failed, released):
        slack = slack_payload(notice)
        raw = f"{notice.headline}. {next_step(notice)}"
        assert "<" not in slack["text"] and ">" not in slack["text"] and not ENTITY.search(slack["text"])
        assert unescape(slack["text"]) == raw  # Slack shows exactly what the blocks say, mentioning nobody
        discord = discord_payload(notice)
        assert discord["allowed_mentions"] == {"parse": []} and "content" not in discord
    # The run's link ends where it should: its `>` and `|` are the link's own, the URL's are encoded.
    [context] = [b for b in slack_payload(failed)["blocks"] if b["type"] == "context"]
    link = context["elements"][0]["text"]
    assert link == "<https://x.test/r?a=1&amp;b=2%7Cx&gt;&lt;!channel&gt;|the run> · event `failed`"
    assert slack_payload(released)["blocks"][4]["text"]["text"] == "<https://x.test/a%7Cb|the notes> &lt;!channel&gt;"


@settings(max_examples=60)
@given(
    st.text(min_size=1, max_size=4000),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
)
@example(job="&" * 3000, path="")  # escaped, 15,000 characters: the cut falls inside an `&amp;`
def test_the_fallback_is_escaped_and_cut_at_whole_entities(job, path):
    notice = Notice(Event.FAILED, "percolate", "1.0.0", run_url=f"https://x.test/{path}", job=job)
    text = slack_payload(notice)["text"]
    assert len(text) <= 3000 and "<" not in text and ">" not in text and not ENTITY.search(text)
    raw = f"{notice.headline}. {next_step(notice)}"
    assert unescape(text) == raw or (text.endswith("…") and raw.startswith(unescape(text[:-1])))
    [context] = [b for b in slack_payload(notice)["blocks"] if b["type"] == "context"]
    link = context["elements"][0]["text"]
    assert link.count("<") == 1 and link.count("|") == 1 and link.index(">") == link.index("|the run>") + 8


SLACK_PATH = "/services/T0AB12CD3/B0AB12CD4/Xy%58Zsecret%2FTOKEN0123456789"


@pytest.mark.parametrize(
    "answer",
    [
        lambda path: f"no such hook: {unquote(path)}",  # echoed decoded
        lambda path: f"no such hook: {path.lower()}",  # re-encoded, lower-case hex
        lambda path: json.dumps({"error": unquote(path)}),  # inside JSON, slashes as sent
        lambda path: "x" * 180 + f" {unquote(path)}",  # cut to 200 characters mid-token
        lambda path: "x" * 170 + f" {path}",  # cut mid-token, as sent
    ],
    ids=["decoded", "lower-hex", "json", "cut-decoded", "cut-raw"],
)
def test_no_spelling_or_cut_of_the_webhook_secret_is_printed(receivers, monkeypatch, capsys, tmp_path, answer):
    slack = receivers(lambda n: (404, {}, answer(SLACK_PATH).encode()))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url(SLACK_PATH))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))
    for extra in ([], ["--json"]):
        code, out, err = notify(capsys, *RELEASED, *extra)

        assert code == 0 and "slack: not sent" in err
        secret = unquote(SLACK_PATH.removeprefix("/services/"))
        for shown in (out, err):
            assert not [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in shown]
            assert "Xy%58Zse" not in shown and "xy%58zse" not in shown


def test_a_webhook_url_that_does_not_parse_is_a_warning_and_the_other_service_is_still_tried(
    receivers, monkeypatch, capsys
):
    discord = receivers(lambda n: (204, {}, b""))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"http://[::1/services/T1/B2/{TOKEN}")
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", discord.url("/api/webhooks/1/abc"))

    code, out, err = notify(capsys, *RELEASED, "--json")

    assert code == 0, err
    assert "slack: not sent" in err and "SLACK_WEBHOOK_URL does not parse as a URL" in err
    assert len(discord.seen) == 1 and json.loads(out)["sent"] == ["discord"]
    assert TOKEN not in out + err
