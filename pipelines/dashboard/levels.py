"""DORA's software delivery performance levels, and each project's four keys rated against them.

The one table of thresholds is `TABLE`, from the 2024 Accelerate State of DevOps Report (DORA, Google
Cloud, October 2024, "Software delivery performance levels"): the newest report that publishes the four
levels. The 2025 report (State of AI-assisted Software Development) groups teams into seven archetypes
instead and publishes no elite/high/medium/low thresholds, so 2024 stays the reference.

The report gives a band per level for the two throughput keys and one typical figure per level for the
two stability keys. Read as bounds, they are not monotone: medium's change failure rate (10%) is better
than high's (20%), medium's recovery time equals high's (less than one day), and no level covers a
recovery between one day and one week. One rule resolves all of it: a key is rated the best level, elite
first, whose bound it meets (`at most` for times and rates, `at least` for frequency; a bound the report
words as "less than" or "multiple" is strict); a value that meets none is low. So a change failure rate
is rated medium never (meeting 10% meets 20% already), nor a recovery time. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pipelines.dashboard.model import Dora

REPORT = "Accelerate State of DevOps Report 2024"
REPORT_BY = "DORA (Google Cloud)"
REPORT_URL = "https://dora.dev/research/2024/dora-report/"
KEYS = ("deployment_frequency", "lead_time", "change_failure_rate", "time_to_restore")


@dataclass(frozen=True)
class Bound:
    """One level's bound for one key: the report's words, the number, and whether it is strict."""

    words: str
    value: float  # days between deploys at most (frequency); hours at most (times); a share at most (rate)
    strict: bool = False


@dataclass(frozen=True)
class Row:
    """One performance level of the report's table."""

    level: str
    deployment_frequency: Bound
    lead_time: Bound
    change_failure_rate: Bound
    time_to_restore: Bound


DAY, WEEK, MONTH = 24.0, 7 * 24.0, 30 * 24.0
TABLE = (
    Row(
        "elite",
        Bound("on demand (multiple deploys per day)", 1, strict=True),
        Bound("less than one day", DAY, strict=True),
        Bound("5%", 0.05),
        Bound("less than one hour", 1.0, strict=True),
    ),
    Row(
        "high",
        Bound("between once per day and once per week", 7),
        Bound("between one day and one week", WEEK),
        Bound("20%", 0.20),
        Bound("less than one day", DAY, strict=True),
    ),
    Row(
        "medium",
        Bound("between once per week and once per month", 30),
        Bound("between one week and one month", MONTH),
        Bound("10%", 0.10),
        Bound("less than one day", DAY, strict=True),
    ),
    Row(
        "low",
        Bound("between once per month and once every six months", 180),
        Bound("between one month and six months", 6 * MONTH),
        Bound("40%", 0.40),
        Bound("between one week and one month", MONTH),
    ),
)


def _at_most(value: float, key: str) -> str:
    """The best level whose bound for `key` the value meets (at most); low when it meets none."""
    for row in TABLE:
        bound: Bound = getattr(row, key)
        if value < bound.value or (value == bound.value and not bound.strict):
            return row.level
    return "low"


def frequency_level(deploys: int, window_days: int) -> str:
    """The level of `deploys` in `window_days`: one deploy every `value` days at least means
    deploys * value >= window_days (strict: more than), so whole numbers compare exactly at the bounds."""
    for row in TABLE:
        bound = row.deployment_frequency
        reach = deploys * bound.value
        if reach > window_days or (reach == window_days and not bound.strict):
            return row.level
    return "low"


def lead_time_level(value: timedelta) -> str:
    return _at_most(value.total_seconds() / 3600, "lead_time")


def failure_rate_level(value: float) -> str:
    return _at_most(value, "change_failure_rate")


def restore_level(value: timedelta) -> str:
    return _at_most(value.total_seconds() / 3600, "time_to_restore")


def rate(dora: Dora, can_roll_back: bool = True) -> dict[str, str | None]:
    """Each key's level; None where the key has no value (no deploy, nothing restored) or cannot be measured
    (a project that cannot roll back has no failure to count)."""
    return {
        "deployment_frequency": frequency_level(dora.deploys, dora.window_days),
        "lead_time": lead_time_level(dora.lead_time) if dora.lead_time is not None else None,
        "change_failure_rate": failure_rate_level(dora.failure_rate)
        if dora.failure_rate is not None and can_roll_back
        else None,
        "time_to_restore": restore_level(dora.time_to_restore)
        if dora.time_to_restore is not None and can_roll_back
        else None,
    }
