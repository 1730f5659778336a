"""The pure rules of deployment: promotion records to pins, blocked versions, rollback choice, PR text."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.core.errors import CheckFailed, InputError
from pipelines.deploy.rules import (
    apply_release,
    choose_rollback,
    deploy_pull_request,
    previous_release_tag,
    release_pin,
)


def test_a_promotion_record_becomes_a_validated_pin(make_pin, promotion_record):
    pin = make_pin("percolate", "0.2.0")
    assert release_pin(promotion_record(pin)) == pin


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index_digest": None}, "promotion record.percolate.digest"),
        ({"dry_run": True}, "dry run"),
        ({"platforms": {"amd64": "sha256:" + "a" * 64}}, "missing platform(s) arm64"),
        ({"project": "percolate-rocks"}, "ships no container image"),
    ],
)
def test_bad_promotion_records_are_refused(change, message, make_pin, promotion_record):
    record = promotion_record(make_pin("percolate", "0.2.0")) | change
    if change.get("index_digest", 1) is None:
        del record["index_digest"]
        message = "lacks index_digest"
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        release_pin(record)


def test_a_release_keeps_the_blocked_list_and_a_blocked_version_is_refused(make_pin):
    existing = make_pin("percolate", "0.1.0", blocked=("0.1.5",))
    assert apply_release(existing, make_pin("percolate", "0.2.0")).blocked == ("0.1.5",)
    assert apply_release(None, make_pin("percolate", "0.2.0")).blocked == ()
    with pytest.raises(CheckFailed, match=r"0.1.5 is blocked"):
        apply_release(existing, make_pin("percolate", "0.1.5"))


def test_rollback_restores_the_newest_earlier_release_and_blocks_the_current_one(make_pin):
    current = make_pin("percolate", "0.3.0", blocked=("0.2.1",))
    history = [current, make_pin("percolate", "0.2.1"), make_pin("percolate", "0.2.0"), make_pin("percolate", "0.1.0")]
    restored = choose_rollback(current, history)
    assert restored == dataclasses.replace(make_pin("percolate", "0.2.0"), blocked=("0.2.1", "0.3.0"))
    assert choose_rollback(current, history, to_version="0.1.0").version == "0.1.0"
    with pytest.raises(CheckFailed, match=r"0.2.1 is blocked"):
        choose_rollback(current, history, to_version="0.2.1")
    with pytest.raises(CheckFailed, match=r"no version 9.9.9 .*earlier versions: 0.2.1, 0.2.0, 0.1.0"):
        choose_rollback(current, history, to_version="9.9.9")


def test_rollback_without_an_earlier_release_fails(make_pin):
    current = make_pin("percolate", "0.1.0")
    with pytest.raises(CheckFailed, match="earlier versions: none"):
        choose_rollback(current, [current])
    with pytest.raises(CheckFailed, match="no deployed release"):
        choose_rollback(dataclasses.replace(current, version=None, digest=None, platforms=(), source=None), [])


def test_previous_release_tag_ignores_rcs_other_projects_and_newer_versions():
    tags = [
        "percolate-v0.1.0",
        "percolate-v0.2.0-rc1",
        "percolate-v0.1.10",
        "percolate-reading-v0.1.99",
        "percolate-v0.3.0",
    ]
    assert previous_release_tag("percolate", "0.2.0", tags) == "percolate-v0.1.10"
    assert previous_release_tag("percolate", "0.1.0", tags) is None


def test_the_pull_request_says_what_it_deploys_and_what_changed(make_pin):
    pin = make_pin("percolate", "0.2.0")
    request = deploy_pull_request(pin, ["abc1234 fix the reader", "def5678 add a cache"], "percolate-v0.1.0")
    assert request.branch == "deploy/percolate-v0.2.0"
    assert request.title == "Deploy percolate 0.2.0"
    for text in (
        pin.digest,
        *dict(pin.platforms).values(),
        pin.source,
        "percolate-api",
        "since percolate-v0.1.0",
        "- abc1234 fix the reader",
    ):
        assert text in request.body
