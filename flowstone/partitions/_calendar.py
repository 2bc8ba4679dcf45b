"""Calendar partitions keyed by dates: daily, weekly and monthly.

A key is the ``datetime.date`` its window starts on; the window runs from that date's
local midnight to the next window's local midnight, so a day in a timezone that changes
its clocks lasts 23 or 25 hours.
"""

from __future__ import annotations

import calendar
from abc import abstractmethod
from datetime import date
from typing import Any, ClassVar

from ._definition import definition_error
from ._encoding import parse_month
from ._time_window import TimeWindowPartitions
from ._zone import from_secs, midnight_secs

_DAY_NAMES = tuple(calendar.day_name)  # Monday first, as date.weekday() counts


class _DateWindows(TimeWindowPartitions):
    """Windows that start at local midnight and are keyed by that date (internal)."""

    @abstractmethod
    def _unit_of_date(self, day: date) -> int:
        """The unit of the window containing ``day``."""

    @abstractmethod
    def _date_of_unit(self, unit: int) -> date:
        """The first day of window ``unit``."""

    def _unit_start(self, unit: int) -> int:
        return midnight_secs(self._date_of_unit(unit), self._zone)

    def _unit_at(self, secs: int) -> int:
        unit = self._unit_of_date(from_secs(secs, self._zone).date())
        # Where midnight is skipped or repeated the local date can disagree with the
        # window boundaries by a fraction of a day; settle on the window truly holding secs.
        while self._unit_start(unit) > secs:
            unit -= 1
        while self._unit_start(unit + 1) <= secs:
            unit += 1
        return unit

    def _unit_key(self, unit: int) -> Any:
        return self._date_of_unit(unit)

    def _format(self, key: Any) -> str:
        return str(key.isoformat())


class DailyPartitions(_DateWindows):
    """One partition per local day; keys are ``datetime.date`` (``"2024-01-15"``).

    Args:
        start: the first day, a date or ``"YYYY-MM-DD"``.
        end: the last day (included), or None for days up to the last complete one.
        timezone: the IANA zone the days are local to.
    """

    kind: ClassVar[str] = "daily"

    def __init__(
        self, start: date | str, end: date | str | None = None, timezone: str = "UTC"
    ) -> None:
        super().__init__(start, end, timezone)

    def _unit_of_date(self, day: date) -> int:
        return day.toordinal()

    def _date_of_unit(self, unit: int) -> date:
        return date.fromordinal(unit)

    def _parse_unit(self, key: Any) -> int:
        return self._key_date(key).toordinal()

    def _noun(self) -> str:
        return "a date"


class WeeklyPartitions(_DateWindows):
    """One partition per week; keys are the ``datetime.date`` each week starts on.

    Args:
        start: a date or ``"YYYY-MM-DD"``; the first week is the first one starting on or
            after it.
        end: a date; the last week is the one containing it (None: up to the last complete week).
        timezone: the IANA zone the weeks are local to.
        week_start: the first day of a week, 0 = Monday (the default) to 6 = Sunday.
    """

    kind: ClassVar[str] = "weekly"
    _example_index: ClassVar[int] = 2

    def __init__(
        self,
        start: date | str,
        end: date | str | None = None,
        timezone: str = "UTC",
        week_start: int = 0,
    ) -> None:
        if (
            isinstance(week_start, bool)
            or not isinstance(week_start, int)
            or not 0 <= week_start <= 6
        ):
            raise definition_error(
                "WeeklyPartitions",
                "week_start",
                week_start,
                "is not a weekday number",
                "an int from 0 (Monday) to 6 (Sunday)",
            )
        self.week_start = week_start
        super().__init__(start, end, timezone)

    def _unit_of_date(self, day: date) -> int:
        # date.fromordinal(1) is a Monday, so ordinal - 1 - week_start is 0 mod 7 on week starts
        return (day.toordinal() - 1 - self.week_start) // 7

    def _date_of_unit(self, unit: int) -> date:
        return date.fromordinal(unit * 7 + 1 + self.week_start)

    def _parse_unit(self, key: Any) -> int:
        day = self._key_date(key)
        if day.weekday() != self.week_start:
            first = _DAY_NAMES[self.week_start]
            raise self._invalid(
                key, f"is a {_DAY_NAMES[day.weekday()]}, not a {first} (weeks start on {first})"
            )
        return self._unit_of_date(day)

    def _noun(self) -> str:
        return f"a {_DAY_NAMES[self.week_start]}"

    def _qualifier(self) -> str:
        return f" (weeks starting {_DAY_NAMES[self.week_start]})"

    def _params(self) -> tuple[Any, ...]:
        return (self.week_start,)

    def _repr_params(self) -> tuple[tuple[str, Any], ...]:
        return (("week_start", self.week_start),)


class MonthlyPartitions(_DateWindows):
    """One partition per calendar month; keys are the ``datetime.date`` of the 1st.

    Keys also parse from ``"YYYY-MM"``. ``start`` rounds up to the next 1st of a month when
    it falls inside one; ``end``'s month is the last.
    """

    kind: ClassVar[str] = "monthly"
    _example_index: ClassVar[int] = 2

    def __init__(
        self, start: date | str, end: date | str | None = None, timezone: str = "UTC"
    ) -> None:
        super().__init__(start, end, timezone)

    def _unit_of_date(self, day: date) -> int:
        return day.year * 12 + day.month - 1

    def _date_of_unit(self, unit: int) -> date:
        year, month = divmod(unit, 12)
        return date(year, month + 1, 1)

    def _parse_unit(self, key: Any) -> int:
        month = parse_month(key) if isinstance(key, str) else None
        day = month or self._key_date(key)
        if day.day != 1:
            raise self._invalid(key, "is not the first day of a month")
        return self._unit_of_date(day)

    def _noun(self) -> str:
        return "the first day of a month"
