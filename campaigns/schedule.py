"""Cron schedules evaluated in a time zone, by croniter (a maintained parser; pallets-eco).

Five fields (`minute hour day-of-month month day-of-week`), with names (`MON-FRI`, `JAN`), ranges, steps,
lists, `L` and `#`, or a macro: `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly`
(`@annually`). Day-of-week 0 or 7 is Sunday. When both day fields are restricted, either may match (as in
Vixie cron). Slots are whole minutes: croniter's seconds field and its random (`R`) and hashed (`H`) values
are refused, since a slot must be the same instant every time it is computed (one run per slot, R6).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

BAD_CRON = (
    "A cron expression has five fields: minute hour day-of-month month day-of-week (names such as MON-FRI "
    "allowed), or is one of @hourly, @daily, @weekly, @monthly, @yearly."
)
BAD_TIMEZONE = "Unknown time zone."
MACROS = frozenset({"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"})
# croniter's non-deterministic values: `R` (random) and `H` (hashed), alone or as a range/step term.
_UNSTABLE = re.compile(r"(^|[,/-])[HR](\(|[,/-]|$)", re.IGNORECASE)


def cron_parse(expression: str) -> str:
    """The expression, checked (ValueError(BAD_CRON) when it is not one this module keeps)."""
    text = " ".join(expression.split())
    if text.lower() in MACROS:
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5 or any(_UNSTABLE.search(field) for field in fields) or not croniter.is_valid(text):
        raise ValueError(BAD_CRON)
    return text


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(BAD_TIMEZONE) from exc


def cron_next(expression: str, tz_name: str, after: datetime) -> datetime | None:
    """The first slot strictly after `after` (aware), as an aware datetime in the schedule's zone; None
    when there is none (`0 0 31 2 *`)."""
    start = after.astimezone(zone(tz_name))
    try:
        slot: datetime = croniter(cron_parse(expression), start).get_next(datetime)
    except CroniterBadDateError:
        return None
    return slot


def cron_latest(expression: str, tz_name: str, after: datetime, now: datetime) -> datetime | None:
    """The latest slot in (after, now], skipping missed ones (a beat that was down runs one catch-up slot)."""
    # Slots are whole minutes, so the latest one at or before `now` is the one before the next second of
    # its minute (croniter's get_prev is strictly before its start).
    start = now.astimezone(zone(tz_name)).replace(second=0, microsecond=0) + timedelta(seconds=1)
    try:
        slot: datetime = croniter(cron_parse(expression), start).get_prev(datetime)
    except CroniterBadDateError:
        return None
    return slot if slot > after else None
