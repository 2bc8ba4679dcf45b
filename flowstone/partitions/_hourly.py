"""Hourly partitions: consecutive hours of absolute time."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from ._encoding import format_instant
from ._time_window import TimeWindowPartitions
from ._zone import HOUR, from_secs, to_secs


class HourlyPartitions(TimeWindowPartitions):
    """One partition per hour; keys are aware datetimes in the definition's timezone.

    Hours are windows of absolute time, so a local day has 23 of them when clocks go
    forward and 25 when they go back (Europe/Berlin on 2024-03-31 and 2024-10-27). The
    encoding always carries the UTC offset, ``"2024-10-27T02:00+02:00"`` and
    ``"2024-10-27T02:00+01:00"`` being the two hours of that repeated 02:00. Keys also parse
    from ``"2024-10-27T02:00"`` and Dagster's ``"2024-10-27-02:00"`` when that wall time is
    unambiguous.

    Note that aware datetimes sharing a ``ZoneInfo`` compare by wall clock, ignoring
    ``fold`` (PEP 495): the two repeated-hour keys compare equal with ``==``. Compare keys
    by their encodings (or ``.timestamp()``) where that hour matters; partition sets and the
    record store do.

    Args:
        start: the first hour: a date (its local midnight), a datetime or a string; a time
            inside an hour rounds up to the next hour.
        end: the last hour included: a datetime, or a date to include all of that day's hours.
        timezone: the IANA zone whose wall clock the hours are aligned to.
    """

    kind: ClassVar[str] = "hourly"
    _accepts_times: ClassVar[bool] = True

    def __init__(
        self,
        start: date | datetime | str,
        end: date | datetime | str | None = None,
        timezone: str = "UTC",
    ) -> None:
        super().__init__(start, end, timezone)

    def _prepare(self, lower: int) -> None:
        # Align the hours to the local wall clock at the start: in zones with a half-hour
        # offset (Asia/Kolkata) hours start at :30 UTC. From there they are absolute.
        local = from_secs(lower, self._zone)
        floor = lower - local.minute * 60 - local.second
        self._anchor = floor if floor == lower else floor + HOUR

    def _unit_start(self, unit: int) -> int:
        return self._anchor + unit * HOUR

    def _unit_at(self, secs: int) -> int:
        return (secs - self._anchor) // HOUR

    def _unit_key(self, unit: int) -> Any:
        return from_secs(self._unit_start(unit), self._zone)

    def _parse_unit(self, key: Any) -> int:
        unit, rest = divmod(self._key_secs(key) - self._anchor, HOUR)
        if rest:
            raise self._invalid(key, "is not the start of an hour")
        return unit

    def _format(self, key: Any) -> str:
        return format_instant(key)

    def _noun(self) -> str:
        return "the start of an hour"

    def _index_of(self, key: Any) -> int | None:
        # fast path for canonical keys, used when sets test membership and summarize
        if isinstance(key, datetime) and key.tzinfo is not None and not key.microsecond:
            unit, rest = divmod(to_secs(key) - self._anchor, HOUR)
            last = self._last_unit
            if not rest and unit >= self._first_unit and (last is None or unit <= last):
                return unit - self._first_unit
            return None
        return super()._index_of(key)
