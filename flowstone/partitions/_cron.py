"""Cron partitions: windows between consecutive fire times of a crontab expression."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from ._crontab import CrontabError, build_trigger, fixed_hour
from ._definition import definition_error
from ._encoding import format_instant
from ._fire_times import FireTimes
from ._time_window import TimeWindowPartitions
from ._zone import from_secs

# Equal definitions share one cache, so copies (unpickled in workers, rebuilt per request)
# do not recompute fire times. Keyed by (expression, zone, start instant).
_CACHES: dict[tuple[str, str, int], FireTimes] = {}
_MAX_CACHES = 64


class CronPartitions(TimeWindowPartitions):
    """One partition per interval between fire times of a crontab expression.

    The expression has crontab's five fields and meaning (weekday 0 or 7 is Sunday; when
    both day-of-month and day-of-week are restricted, either matching fires), evaluated in
    ``timezone`` by APScheduler. A key is the aware datetime its window starts at, encoded
    with its UTC offset. As in cron, an expression naming hours fires once in the hour that
    repeats when clocks go back, and a time skipped when they go forward fires at the next
    instant that exists.

    Unlike the calendar kinds, cron windows are found by computing fire times; they are
    cached compactly (8 bytes a window) and computed once per definition, at about 50,000
    a second.

    Args:
        cron: e.g. ``"0 6 * * 1-5"`` (06:00 on weekdays).
        start: a date, datetime or string; the first window starts at the first fire time
            at or after it.
        end: the last window included is the last one starting at or before it (a date
            includes the whole day).
        timezone: the IANA zone the expression is read in.
    """

    kind: ClassVar[str] = "cron"
    _accepts_times: ClassVar[bool] = True
    _example_index: ClassVar[int] = 1

    def __init__(
        self,
        cron: str,
        start: date | datetime | str,
        end: date | datetime | str | None = None,
        timezone: str = "UTC",
    ) -> None:
        if not isinstance(cron, str):
            raise definition_error(
                "CronPartitions",
                "cron",
                cron,
                "is not a string",
                "a crontab expression such as '0 6 * * 1-5'",
            )
        self.cron = " ".join(cron.split())
        try:
            build_trigger(self.cron, UTC)
        except CrontabError as exc:
            raise definition_error(
                "CronPartitions",
                "cron",
                cron,
                f"is not a valid crontab expression ({exc})",
                "five fields 'minute hour day-of-month month day-of-week', e.g. '0 6 * * 1-5'",
            ) from None
        super().__init__(start, end, timezone)

    def _prepare(self, lower: int) -> None:
        self._lower = lower
        key = (self.cron, self.timezone, lower)
        fires = _CACHES.get(key)
        if fires is None:
            trigger = build_trigger(self.cron, self._zone)
            fires = FireTimes(trigger, self._zone, lower, skip_repeated=fixed_hour(self.cron))
            if len(_CACHES) >= _MAX_CACHES:
                _CACHES.pop(next(iter(_CACHES)))
            _CACHES[key] = fires
        if fires.exhausted:
            raise definition_error(
                "CronPartitions",
                "cron",
                self.cron,
                f"never fires on or after the start {format_instant(from_secs(lower, self._zone))}",
                "an expression naming a date that exists, e.g. '0 0 29 2 *', not '0 0 30 2 *'",
            )
        self._fires = fires

    def _unit_start(self, unit: int) -> int:
        return self._fires.start(unit)

    def _unit_at(self, secs: int) -> int:
        return self._fires.index_at(secs)

    def _unit_key(self, unit: int) -> Any:
        return from_secs(self._fires.start(unit), self._zone)

    def _parse_unit(self, key: Any) -> int:
        secs = self._key_secs(key)
        unit = self._fires.index_at(secs)
        if unit < self._first_unit:
            return unit  # reported as before the start
        if self._fires.start(unit) != secs:
            raise self._invalid(key, f"is not a fire time of {self.cron!r} in {self.timezone}")
        return unit

    def _format(self, key: Any) -> str:
        return format_instant(key)

    def _noun(self) -> str:
        return "a fire time"

    def _label(self) -> str:
        return f"cron partitions {self.cron!r}"

    def _params(self) -> tuple[Any, ...]:
        return (self.cron,)

    def _repr_prefix(self) -> str:
        return f"{self.cron!r}, "

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_fires"]  # rebuilt (or found in the shared cache) when unpickled
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare(self._lower)
