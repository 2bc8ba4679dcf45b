"""Standard crontab expressions, translated for APScheduler 3.x (internal).

APScheduler 3.x's ``CronTrigger.from_crontab`` departs from crontab in two ways that would
silently move windows: it counts weekdays from Monday (``1-5`` would mean Tuesday to
Saturday) and it requires day-of-month *and* day-of-week to match where crontab fires when
*either* does (both restricted). We rewrite the weekday field with names and combine two
triggers for the "either" case, so expressions mean what ``man 5 crontab`` says.
"""

from __future__ import annotations

from datetime import tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class CrontabError(ValueError):
    """An expression that is not a valid five-field crontab (internal)."""


def _weekday(text: str) -> int:
    lowered = text.lower()
    if lowered in _NAMES:
        return _NAMES.index(lowered)
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)  # 7 is Sunday too; kept as 7 so that "5-7" is a valid range
    raise CrontabError(f"day of week {text!r} is not 0-7 or a name like 'mon'")


def weekdays(field: str) -> list[int]:
    """The crontab weekdays (0 = Sunday) a day-of-week field selects."""
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        if (step_text and not step_text.isdigit()) or step_text == "0":
            raise CrontabError(f"day-of-week step {step_text!r} is not a positive number")
        step = int(step_text or 1)
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            first, last = (_weekday(x) for x in span.split("-", 1))
        else:
            first = _weekday(span)
            last = 7 if step_text else first
        if first > last:
            raise CrontabError(f"day-of-week range {span!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return sorted(days)


def build_trigger(expression: str, zone: tzinfo) -> BaseTrigger:
    """An APScheduler trigger firing when the crontab ``expression`` does, in ``zone``."""
    fields = expression.split()
    if len(fields) != 5:
        raise CrontabError(f"it has {len(fields)} fields, not 5")
    minute, hour, day, month, weekday = fields
    names = ",".join(_NAMES[d] for d in weekdays(weekday))
    try:
        if not day.startswith("*") and not weekday.startswith("*"):
            return OrTrigger(
                [
                    CronTrigger.from_crontab(f"{minute} {hour} {day} {month} *", zone),
                    CronTrigger.from_crontab(f"{minute} {hour} * {month} {names}", zone),
                ]
            )
        return CronTrigger.from_crontab(f"{minute} {hour} {day} {month} {names}", zone)
    except ValueError as exc:
        raise CrontabError(str(exc)) from None


def fixed_hour(expression: str) -> bool:
    """Whether the hour field names hours rather than every hour ("*", "*/2")."""
    return not expression.split()[1].startswith("*")
