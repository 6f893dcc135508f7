"""A campaign's schedule in words, with its next runs: "Weekdays at 09:00 (Europe/Berlin); next: Mon 30 Nov
09:00, Tue 1 Dec 09:00, Wed 2 Dec 09:00". The slots come from `campaigns.schedule.cron_next` (the beat's own
rule); the words cover the schedules people write (times on days of the week or of the month, every N
minutes, every hour, the @ macros) and fall back to the expression itself."""

from __future__ import annotations

import re
from datetime import datetime

from campaigns.schedule import cron_next

NEXT_RUNS = 3
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
DAY_ABBREVIATIONS = {name[:3].upper(): str(index) for index, name in enumerate(DAY_NAMES)}
MONTH_ABBREVIATIONS = {
    name: str(index)
    for index, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MACROS = {
    "@hourly": "Every hour, on the hour",
    "@daily": "Every day at 00:00",
    "@midnight": "Every day at 00:00",
    "@weekly": "Sundays at 00:00",
    "@monthly": "On the 1st of every month at 00:00",
    "@yearly": "Every 1 January at 00:00",
    "@annually": "Every 1 January at 00:00",
}
_NUMBER = re.compile(r"^\d+$")


def _numbers(field: str, names: dict[str, str]) -> list[int] | None:
    """The values of a field made of numbers, names and ranges (no steps, no `*`); None otherwise."""
    text = field.upper()
    for name, number in names.items():
        text = text.replace(name, number)
    values: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not _NUMBER.match(low) or (high and not _NUMBER.match(high)):
            return None
        values.extend(range(int(low), int(high or low) + 1))
    return values


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _days(dom: str, month: str, dow: str) -> str | None:
    if month != "*":
        months = _numbers(month, MONTH_ABBREVIATIONS)
        days = _numbers(dom, {})
        if dow != "*" or not months or not days:
            return None
        return "Every " + _join([f"{d} {MONTH_NAMES[m - 1]}" for m in months for d in days])
    if dom != "*" and dow == "*":
        days = _numbers(dom, {})
        return f"On the {_join([_ordinal(d) for d in days])} of every month" if days else None
    if dom != "*":
        return None
    if dow == "*":
        return "Every day"
    weekdays = _numbers(dow, DAY_ABBREVIATIONS)
    if not weekdays:
        return None
    chosen = sorted({d % 7 for d in weekdays})
    if chosen == [1, 2, 3, 4, 5]:
        return "Weekdays"
    if chosen == [0, 6]:
        return "Weekends"
    if chosen == list(range(7)):
        return "Every day"
    return _join([f"{DAY_NAMES[d]}s" for d in chosen])


def cron_in_words(expression: str) -> str:
    """`0 9 * * 1-5` → "Weekdays at 09:00"; what it cannot say simply stays `cron <expression>`."""
    text = " ".join(expression.split())
    if text.lower() in MACROS:
        return MACROS[text.lower()]
    fields = text.split(" ")
    if len(fields) != 5:
        return f"cron {text}"
    minute, hour, dom, month, dow = fields
    days = _days(dom, month, dow)
    minutes, hours = _numbers(minute, {}), _numbers(hour, {})
    if days is not None and minutes and hours and len(minutes) * len(hours) <= 4:
        times = [f"{h:02d}:{m:02d}" for h in hours for m in minutes]
        return f"{days} at {_join(times)}"
    if days == "Every day" and hour == "*" and minutes and len(minutes) == 1:
        return f"Every hour at :{minutes[0]:02d}"
    if days == "Every day" and hour == "*" and minute.startswith("*/") and _NUMBER.match(minute[2:]):
        return f"Every {int(minute[2:])} minutes"
    return f"cron {text}"


def _slot(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %H:%M}"


def schedule_in_words(*, cron: str, timezone: str, now: datetime) -> str:
    """The schedule, its time zone and its next few runs (in that zone)."""
    runs: list[datetime] = []
    after = now
    for _ in range(NEXT_RUNS):
        slot = cron_next(cron, timezone, after)
        if slot is None:
            break
        runs.append(slot)
        after = slot
    upcoming = ", ".join(_slot(slot) for slot in runs) or "none"
    return f"{cron_in_words(cron)} ({timezone or 'UTC'}); next: {upcoming}"
