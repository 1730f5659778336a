"""DORA's 2024 performance levels (pipelines/dashboard/levels.py), rated by hand at and around every bound.

The expected levels are read off the report's table (Accelerate State of DevOps Report 2024), not computed:
- deployment frequency: elite more than once a day, high once a day to once a week, medium once a week to
  once a month (30 days), low less often;
- lead time for changes: elite under a day, high one day to one week, medium one week to one month, low more;
- change failure rate: elite 5%, high 20%, medium 10%, low 40%: the best level whose figure is met, so
  medium is never given (10% already meets high's 20%), and more than 40% is low;
- failed deployment recovery time: elite under an hour, high and medium under a day, low one week to one
  month: under a day is high (never medium), a day or more is low.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.dashboard.levels import (
    TABLE,
    failure_rate_level,
    frequency_level,
    lead_time_level,
    rate,
    restore_level,
)
from pipelines.dashboard.model import Dora


@pytest.mark.parametrize(
    ("deploys", "days", "level"),
    [
        (91, 90, "elite"),  # more than one a day
        (90, 90, "high"),  # exactly one a day: "between once per day and once per week"
        (13, 90, "high"),  # every 6.9 days: more than once a week
        (12, 90, "medium"),  # every 7.5 days: less than once a week
        (3, 90, "medium"),  # every 30 days: once a month exactly
        (2, 90, "low"),  # every 45 days
        (0, 90, "low"),
        (1, 7, "high"),  # once in a week
        (2, 1, "elite"),
    ],
)
def test_deployment_frequency(deploys, days, level):
    assert frequency_level(deploys, days) == level


@pytest.mark.parametrize(
    ("hours", "level"),
    [
        (0.5, "elite"),
        (23.99, "elite"),
        (24, "high"),  # "less than one day" is elite; one day starts high
        (24 * 7, "high"),
        (24 * 7 + 1, "medium"),
        (24 * 30, "medium"),
        (24 * 30 + 1, "low"),
        (24 * 400, "low"),  # beyond six months: still low
    ],
)
def test_lead_time(hours, level):
    assert lead_time_level(timedelta(hours=hours)) == level


@pytest.mark.parametrize(
    ("share", "level"),
    [
        (0.0, "elite"),
        (0.05, "elite"),
        (0.051, "high"),
        (0.10, "high"),  # medium's own figure, but high's 20% is met first
        (0.15, "high"),
        (0.20, "high"),
        (0.21, "low"),
        (0.40, "low"),
        (0.9, "low"),
    ],
)
def test_change_failure_rate(share, level):
    assert failure_rate_level(share) == level


@pytest.mark.parametrize(
    ("hours", "level"),
    [(0.25, "elite"), (1, "high"), (23.5, "high"), (24, "low"), (24 * 3, "low"), (24 * 60, "low")],
)
def test_failed_deployment_recovery_time(hours, level):
    assert restore_level(timedelta(hours=hours)) == level


def dora(**fields) -> Dora:
    base = dict(
        window_days=90,
        end=datetime(2025, 11, 30, tzinfo=UTC),
        deploys=0,
        per_week=0.0,
        lead_time=None,
        failed=0,
        failure_rate=None,
        restores=0,
        time_to_restore=None,
    )
    return Dora(**{**base, **fields})


def test_a_key_without_a_value_is_not_rated():
    assert rate(dora()) == {
        "deployment_frequency": "low",
        "lead_time": None,
        "change_failure_rate": None,
        "time_to_restore": None,
    }


def test_a_project_that_cannot_roll_back_is_not_rated_on_stability():
    measured = dora(deploys=30, lead_time=timedelta(hours=2), failure_rate=0.0, time_to_restore=timedelta(hours=1))
    assert rate(measured, can_roll_back=False) == {
        "deployment_frequency": "high",  # 30 in 90 days: every 3 days
        "lead_time": "elite",
        "change_failure_rate": None,
        "time_to_restore": None,
    }
    assert rate(measured)["change_failure_rate"] == "elite" and rate(measured)["time_to_restore"] == "high"


def test_the_table_is_the_reports_four_levels_in_order():
    assert tuple(row.level for row in TABLE) == ("elite", "high", "medium", "low")
    assert [row.change_failure_rate.words for row in TABLE] == ["5%", "20%", "10%", "40%"]
    assert [row.time_to_restore.words for row in TABLE] == [
        "less than one hour",
        "less than one day",
        "less than one day",
        "between one week and one month",
    ]
