"""Text a contributor controls is shown as it is, never acted on (docs/dashboard.md, "Hostile input"):
bidirectional and other invisible controls appear as escapes, a staging record's run is linked only when it
is a run of this repository on GitHub Actions, in-page links point only at rows that exist, and a forged
date gives no negative duration."""

from __future__ import annotations

import json
import re
from html import unescape

from kit.git import git
from tests.dashboard.hostile import base_repo, commit_stack, dashboard, stack


def staging_record(data, build: str, run_url: str) -> None:
    record = {
        "kind": "staging-record",
        "project": "percolate",
        "build": build,
        "result": "passed",
        "recorded_at": "2025-10-05T10:00:00Z",
        "run_url": run_url,
    }
    data.mkdir(exist_ok=True)
    (data / f"{len(list(data.iterdir()))}.json").write_text(json.dumps(record))


def test_bidi_and_control_characters_in_records_and_tags_are_shown_as_escapes(tmp_path):
    root = base_repo(tmp_path / "repo")
    git(root, "tag", "percolate-v0.2.0")
    staging_record(
        tmp_path / "data", "build\u202etxt.exe\x1b[31m\x85", "https://github.com/example-org/mono/actions/runs/1"
    )

    built = dashboard(root, tmp_path / "site", "--data", str(tmp_path / "data"))

    assert built.code == 0, built.stderr
    assert not re.search("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b-\x1f\x7f-\x9f]", built.page)
    assert "build\\u202etxt.exe\\x1b[31m\\x85" in built.page


def test_a_run_is_linked_only_when_it_is_this_repositorys_actions_run(tmp_path):
    root = base_repo(tmp_path / "repo")
    data = tmp_path / "data"
    staging_record(data, "2025.10.01.0000-build.1-v0.1.0-abc1234", "https://evil.example/login?next=github.com")
    built = dashboard(root, tmp_path / "site", "--data", str(data))
    assert built.code == 0, built.stderr
    assert 'href="https://evil.example' not in built.page
    assert "run <code>https://evil.example/login?next=github.com</code>" in built.page

    for other in (
        "https://github.com/someone-else/mono/actions/runs/1",
        "https://github.com/example-org/mono/actions/runs/1@evil.example",
        "https://github.com/example-org/mono/pull/1",
    ):
        (data / "0.json").unlink()
        staging_record(data, "2025.10.01.0000-build.1-v0.1.0-abc1234", other)
        built = dashboard(root, tmp_path / "site", "--data", str(data))
        assert f'href="{other}"' not in built.page, other

    good = "https://github.com/example-org/mono/actions/runs/123/job/4"
    (data / "0.json").unlink()
    staging_record(data, "2025.10.01.0000-build.1-v0.1.0-abc1234", good)
    built = dashboard(root, tmp_path / "site", "--data", str(data))
    assert f'<a href="{good}">run</a>' in built.page


def test_in_page_links_point_at_rows_that_exist_and_forged_dates_give_no_negative_duration(tmp_path):
    root = base_repo(tmp_path / "repo")
    commit_stack(root, stack("0.9.0"), "deploy an untagged version (#6)", at="2025-10-03T10:00:00+00:00")
    git(root, "commit", "-q", "--allow-empty", "-m", "old", at="2021-01-01T00:00:00+00:00")
    git(root, "tag", "-a", "percolate-v0.1.1-rc1", "-m", "x", at="2025-10-04T10:00:00+00:00")
    git(root, "tag", "-a", "percolate-v0.1.1", "-m", "x", at="2021-01-01T00:00:00+00:00")  # before its RC
    commit_stack(root, stack("0.1.1"), "deploy (#7)", at="2025-10-05T10:00:00+00:00")

    built = dashboard(root, tmp_path / "site")

    assert built.code == 0, built.stderr
    ids = {unescape(i) for i in re.findall(r'\sid="([^"]*)"', built.page)}
    targets = {unescape(h[1:]) for h in re.findall(r'href="(#[^"]*)"', built.page)}
    assert targets <= ids, targets - ids
    assert "0.9.0" in built.page
    assert not re.search(r">-[0-9]+ (d|h|min)\b", built.page)
