"""Five-field cron expressions (`minute hour day-of-month month day-of-week`) evaluated in a time zone.

Small on purpose (no croniter dependency): numbers, `*`, ranges `a-b`, steps `*/n` and `a-b/n`, and lists.
Day-of-week 0 or 7 is Sunday. When both day fields are restricted, either may match (as in Vixie cron).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BAD_CRON = "A cron expression has five fields: minute hour day-of-month month day-of-week."
BAD_TIMEZONE = "Unknown time zone."
# Search horizon for the next slot: a valid expression like `0 0 29 2 *` fires at least every 8 years.
HORIZON_DAYS = 366 * 8

_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_any: bool
    weekdays_any: bool


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError(part)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(part)
        if not (low <= start <= end <= high):
            raise ValueError(part)
        values.update(range(start, end + 1, step))
    return frozenset(values)


def cron_parse(expression: str) -> Cron:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(BAD_CRON)
    try:
        parsed = [_field(text, low, high) for text, (low, high) in zip(fields, _RANGES, strict=True)]
    except ValueError as exc:
        raise ValueError(BAD_CRON) from exc
    weekdays = frozenset(0 if d == 7 else d for d in parsed[4])
    return Cron(parsed[0], parsed[1], parsed[2], parsed[3], weekdays, fields[2] == "*", fields[4] == "*")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(BAD_TIMEZONE) from exc


def _day_matches(cron: Cron, day: datetime) -> bool:
    if day.month not in cron.months:
        return False
    dom = day.day in cron.days
    dow = (day.isoweekday() % 7) in cron.weekdays
    if cron.days_any or cron.weekdays_any:
        return dom and dow
    return dom or dow


def cron_next(expression: str, tz_name: str, after: datetime) -> datetime | None:
    """The first slot strictly after `after` (aware), as an aware UTC-comparable datetime."""
    cron, tz = cron_parse(expression), zone(tz_name)
    local = after.astimezone(tz).replace(second=0, microsecond=0, tzinfo=None)
    day = local.replace(hour=0, minute=0)
    for _ in range(HORIZON_DAYS):
        if _day_matches(cron, day):
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    aware = candidate.replace(tzinfo=tz)
                    if candidate >= local and aware > after:
                        return aware
        day += timedelta(days=1)
    return None


def cron_latest(expression: str, tz_name: str, after: datetime, now: datetime) -> datetime | None:
    """The latest slot in (after, now], skipping missed ones (a beat that was down runs one catch-up slot)."""
    latest: datetime | None = None
    slot = cron_next(expression, tz_name, after)
    # Bounded: a per-minute schedule missed for a day is 1,440 steps.
    for _ in range(10_000):
        if slot is None or slot > now:
            break
        latest = slot
        slot = cron_next(expression, tz_name, slot)
    return latest
