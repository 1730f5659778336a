"""The deploy history (issue 25, item 1): each deploy and each rollback as its own event, in time order in
dashboard.json and newest first on the page, with the versions blocked now and why.

The expected events are the story's (conftest.py), written out by hand: percolate-reading's 0.1.2 failed and
was rolled back to 0.1.1 (PR #43), which was rolled back in turn to 0.1.0 two hours later: one failure,
restored 3 h after its deploy, with two rollback events and two blocked versions.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.dashboard.build import _current
from pipelines.dashboard.history import pull_request_of, stack_history
from pipelines.edges.git_history import FileVersion
from tests.dashboard.conftest import digest_of, stack_file


def projects(site) -> dict:
    out, _ = site
    document = json.loads((out / "dashboard.json").read_text())
    assert document["schema_version"] == 2
    return {p["name"]: p for p in document["projects"]}


def without_commits(events: list[dict]) -> list[dict]:
    assert all(len(e.pop("commit")) == 40 for e in events)
    return events


def deploy(version, at, pr=None, rolled_back=None, restored=None, project="percolate-reading") -> dict:
    return {
        "type": "deploy",
        "version": version,
        "digest": digest_of(project, version),
        "at": at,
        "pull_request": pr,
        "rolled_back_at": rolled_back,
        "restored_at": restored,
    }


def rollback(from_version, to_version, at, blocked, hours, pr=None, project="percolate-reading") -> dict:
    return {
        "type": "rollback",
        "from_version": from_version,
        "to_version": to_version,
        "digest": digest_of(project, to_version),
        "at": at,
        "pull_request": pr,
        "blocked": blocked,
        "time_to_restore_hours": hours,
    }


def test_a_rollback_of_a_rollback_is_two_events_of_one_failure(site):
    reading = projects(site)["percolate-reading"]
    assert without_commits(reading["events"]) == [
        deploy("0.1.0", "2025-10-06T08:00:00+00:00"),
        deploy("0.1.1", "2025-10-13T08:00:00+00:00", pr=41),
        deploy("0.1.2", "2025-10-14T10:00:00+00:00", 42, "2025-10-14T11:00:00+00:00", "2025-10-14T13:00:00+00:00"),
        rollback("0.1.2", "0.1.1", "2025-10-14T11:00:00+00:00", ["0.1.2"], 1.0, pr=43),
        rollback("0.1.1", "0.1.0", "2025-10-14T13:00:00+00:00", ["0.1.1"], 3.0),
    ]
    assert [(b["version"], b["since"], b["by"]) for b in reading["blocked"]] == [
        ("0.1.1", "2025-10-14T13:00:00+00:00", "rollback"),
        ("0.1.2", "2025-10-14T11:00:00+00:00", "rollback"),
    ]


def test_the_rollback_of_percolate_0_3_0_is_an_event(site):
    percolate = projects(site)["percolate"]
    p = "percolate"
    assert without_commits(percolate["events"]) == [
        deploy("0.1.0", "2025-08-03T10:00:00+00:00", project=p),
        deploy("0.2.0", "2025-09-13T10:00:00+00:00", project=p),
        deploy("0.3.0", "2025-10-03T08:00:00+00:00", None, "2025-10-03T12:00:00+00:00", "2025-10-03T12:00:00+00:00", p),
        rollback("0.3.0", "0.2.0", "2025-10-03T12:00:00+00:00", ["0.3.0"], 4.0, project=p),
        deploy("0.3.1", "2025-10-22T06:00:00+00:00", project=p),
    ]
    assert [(b["version"], b["by"]) for b in percolate["blocked"]] == [("0.3.0", "rollback")]


def test_percolate_rocks_deploys_are_its_releases_to_pypi(site):
    rocks = projects(site)["percolate-rocks"]
    assert [(e["type"], e["version"], e["at"], e["digest"]) for e in rocks["events"]] == [
        ("deploy", "0.1.0", "2025-09-05T12:00:00+00:00", None),
        ("deploy", "0.2.0", "2025-11-04T10:00:00+00:00", None),
    ]
    assert rocks["blocked"] == []


def test_the_page_shows_the_history_newest_first(site):
    out, _ = site
    html = (out / "index.html").read_text()
    section = html[html.index('<section id="percolate-reading"') : html.index('<section id="percolate"')]
    history = section[: section.index("</table>")]
    order = [history.index(text) for text in ("2025-10-14 13:00", "2025-10-14 11:00", "2025-10-14 10:00")]
    assert order == sorted(order)
    assert "↩ rollback" in history and "0.1.1</a> → <a" in history
    assert "blocked 0.1.1; restored 3 h 0 min after the failed deploy" in history
    assert 'href="https://github.com/example-org/mono/pull/43">PR #43</a>' in history
    assert '<span class="bad">rolled back</span> 1 h 0 min later' in history
    assert 'id="percolate-reading-v0.1.2"' in section and 'href="#percolate-reading-v0.1.2"' in section


def test_the_newest_events_of_all_projects_lead_the_page(site):
    out, _ = site
    html = (out / "index.html").read_text()
    latest = html[html.index("The newest 8 deploys and rollbacks of all projects") :]
    latest = latest[: latest.index("</table>")]
    rows = [" ".join(re.sub(r"<[^>]+>", " ", "<tr" + row).split()) for row in latest.split("<tr")[2:]]
    assert [row.split(" UTC")[0] for row in rows] == [
        "percolate-rocks 2025-11-04 10:00",
        "percolate 2025-10-22 06:00",
        "percolate-reading 2025-10-14 13:00",
        "percolate-reading 2025-10-14 11:00",
        "percolate-reading 2025-10-14 10:00",
        "percolate-reading 2025-10-13 08:00",
        "percolate-reading 2025-10-06 08:00",
        "percolate 2025-10-03 12:00",
    ]
    assert "↩ rollback 0.3.0 → 0.2.0" in rows[-1]


# --- the same rules on hand-made stack-file versions

AT = datetime(2025, 1, 1, tzinfo=UTC)
UNRELEASED = (
    "config:\n  percolate-platform:images:\n    percolate:\n"
    "      repository: ghcr.io/percolation-labs/percolate\n      blocked: [0.1.0]\n"
)


def versions(*texts: str, subjects: tuple[str, ...] = ()) -> list[FileVersion]:
    return [
        FileVersion(f"{n:040x}", AT + timedelta(hours=n), subjects[n] if n < len(subjects) else "x", text)
        for n, text in enumerate(texts)
    ]


def test_a_first_release_rolled_back_to_no_release_is_a_rollback():
    history = stack_history(versions(stack_file("0.1.0", None), UNRELEASED), "P")
    first, back = history.deploys["percolate"]
    assert (first.version, first.rolled_back_at, first.restored_at) == ("0.1.0", AT + timedelta(hours=1), back.date)
    assert (back.rollback, back.previous, back.version, back.blocked) == (True, "0.1.0", None, ("0.1.0",))
    assert back.restore_time == timedelta(hours=1)
    assert _current(history.deploys["percolate"]) is None  # nothing of it runs in prod now


def test_a_version_blocked_by_hand_is_no_event_and_says_so():
    hand = stack_file("0.1.0", None) + "      blocked: [0.0.9]\n"
    history = stack_history(versions(stack_file("0.1.0", None), hand), "P")
    assert [d.version for d in history.deploys["percolate"]] == ["0.1.0"]
    (blocked,) = history.blocked("percolate")
    assert (blocked.version, blocked.since, blocked.by_rollback) == ("0.0.9", AT + timedelta(hours=1), False)


def test_three_rollbacks_in_a_row_restore_one_failure_at_the_last():
    texts = [
        stack_file("0.1.0", None),
        stack_file("0.2.0", None),
        stack_file("0.3.0", None),
        stack_file("0.2.0", None, blocked=["0.3.0"]),
        stack_file("0.1.0", None, blocked=["0.3.0", "0.2.0"]),
    ]
    events = stack_history(versions(*texts), "P").deploys["percolate"]
    failed = events[2]
    assert (failed.version, failed.rolled_back_at, failed.restored_at) == (
        "0.3.0",
        AT + timedelta(hours=3),
        AT + timedelta(hours=4),
    )
    assert [e.restore_time for e in events[3:]] == [timedelta(hours=1), timedelta(hours=2)]
    assert events[1].rolled_back_at is None  # 0.2.0's own deploy was not what failed


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("deploy: percolate 0.2.0 (#12)", 12),
        ("Merge pull request #7 from percolation-labs/deploy/percolate-v0.2.0", 7),
        ("rollback: percolate 0.3.0 -> 0.2.0", None),
        ("fixes (#3) in the middle", None),
        ("Merge pull request #x", None),
    ],
)
def test_the_pull_request_a_subject_names(subject, number):
    assert pull_request_of(subject) == number
