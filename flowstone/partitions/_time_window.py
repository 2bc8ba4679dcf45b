"""The common base of time-window partitions (daily, hourly, weekly, monthly, cron).

Each kind numbers its windows with integer *units* (a day's ordinal, a month count, hours
since the anchor, the index of a cron fire time) and supplies four conversions: unit to
window start, instant to unit, unit to key, key to unit. Everything else — bounds,
validation, shifting, sets, lookups by time — is unit arithmetic here, so a set of 87,600
hours is two integers and ``len`` is a subtraction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from ..errors import InvalidPartition
from ._definition import PartitionsDefinition, definition_error
from ._encoding import format_instant, parse_date, parse_instant, show, type_name
from ._set import PartitionSet
from ._space import DefinitionSpace, Space
from ._zone import WallTimeError, from_secs, load_zone, midnight_secs, to_secs, wall_secs

_MISSING = "is not a key (a partitioned asset needs one)"


class TimeWindowPartitions(PartitionsDefinition):
    """Partitions that are consecutive windows of time in a timezone.

    Windows are half-open, ``[window_start(key), window_end(key))``, contiguous, and
    computed in the definition's timezone, so they follow its daylight-saving changes.
    ``start`` and ``end`` (both included) bound the keys; without an end, ``all()`` stops at
    the last window complete at ``now``. Attributes ``start`` / ``end`` hold the first and
    last keys (``end`` is None when unbounded) and ``timezone`` the IANA zone name.
    """

    _accepts_times: ClassVar[bool] = False  # may start/end be date-times, not only dates?
    _example_index: ClassVar[int] = 14

    def __init__(self, start: Any, end: Any, timezone: Any) -> None:
        zone = load_zone(timezone)
        if zone is None:
            raise definition_error(
                self._owner(),
                "timezone",
                timezone,
                "is not a known time zone",
                "an IANA time zone name such as 'UTC' or 'Europe/Berlin'",
            )
        self._zone = zone
        self.timezone: str = zone.key
        lower = self._bound_secs("start", start, upper=False)
        self._prepare(lower)
        first = self._unit_at(lower)
        if self._unit_start(first) < lower:  # the first window starts at or after start
            first += 1
        self._first_unit = first
        self._last_unit: int | None = None
        if end is not None:
            upper = self._bound_secs("end", end, upper=True)
            self._last_unit = self._unit_at(upper - 1)
            if upper <= lower:
                raise definition_error(
                    self._owner(),
                    "end",
                    end,
                    f"is before the start {start!r}",
                    "an end on or after the start",
                )
            if self._last_unit < first:
                first_key = self._format(self._unit_key(first))
                raise definition_error(
                    self._owner(),
                    "end",
                    end,
                    f"leaves no window: the first one starts at {first_key}",
                    f"an end on or after {first_key}",
                )

    # -- hooks of each kind ------------------------------------------------------------

    def _prepare(self, lower: int) -> None:
        """Set up unit numbering given the instant the first window may start at."""

    @abstractmethod
    def _unit_start(self, unit: int) -> int:
        """The instant (epoch seconds) window ``unit`` starts at."""

    @abstractmethod
    def _unit_at(self, secs: int) -> int:
        """The unit of the window containing an instant."""

    @abstractmethod
    def _unit_key(self, unit: int) -> Any:
        """The canonical key of a unit."""

    @abstractmethod
    def _parse_unit(self, key: Any) -> int:
        """The unit of a key in any accepted form, checking shape and alignment only."""

    @abstractmethod
    def _format(self, key: Any) -> str:
        """The canonical string of a canonical key."""

    @abstractmethod
    def _noun(self) -> str:
        """What one key is, for messages ("a date", "the first day of a month")."""

    def _params(self) -> tuple[Any, ...]:
        """Kind-specific constructor values that take part in equality."""
        return ()

    def _owner(self) -> str:
        return type(self).__name__

    # -- public API --------------------------------------------------------------------

    @property
    def start(self) -> Any:
        """The first key."""
        return self._unit_key(self._first_unit)

    @property
    def end(self) -> Any:
        """The last key, or None when the partitions are unbounded."""
        return None if self._last_unit is None else self._unit_key(self._last_unit)

    def validate(self, key: Any) -> Any:
        return self._unit_key(self._checked_unit(key))

    def encode(self, key: Any) -> str:
        return self._format(self.validate(key))

    def window_start(self, key: Any) -> datetime:
        """The aware datetime (in the definition's timezone) the key's window starts at."""
        return self._instant(self._unit_start(self._checked_unit(key)))

    def window_end(self, key: Any) -> datetime:
        """The aware datetime the key's window ends at (the next window's start)."""
        return self._instant(self._unit_start(self._checked_unit(key) + 1))

    def key_for_time(self, moment: datetime | date | str) -> Any:
        """The key of the window containing ``moment`` (a naive time is read as wall-clock
        time in the definition's timezone; a date as its midnight).

        Raises:
            InvalidPartition: the window is outside the definition's range."""
        unit = self._unit_at(self._moment_secs(moment))
        if unit < self._first_unit or (self._last_unit is not None and unit > self._last_unit):
            side = "before the start" if unit < self._first_unit else "after the end"
            raise InvalidPartition(
                f"time {show(moment)} is {side} of {self.describe()}; expected a time from"
                f" {format_instant(self._instant(self._unit_start(self._first_unit)))}"
                + self._time_limit()
            )
        return self._unit_key(unit)

    def shift(self, key: Any, n: int) -> Any:
        """The key ``n`` windows after ``key`` (``n`` may be negative).

        Raises:
            InvalidPartition: the shifted key is outside the definition's range."""
        unit = self._checked_unit(key) + n
        return self._unit_key(self._bounded(unit, key, shifted=n))

    def all(
        self, *, now: datetime | None = None, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        last = self._last_unit
        if last is None:
            moment = now if now is not None else datetime.now(UTC)
            last = self._unit_at(self._moment_secs(moment)) - 1  # the last complete window
        return self._set(self._first_unit, last)

    def range(
        self, first: Any, last: Any, *, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        lo, hi = self._checked_unit(first), self._checked_unit(last)
        self._check_range_order(first, last, lo, hi)
        return self._set(lo, hi)

    def example(self) -> str:
        unit = self._first_unit + self._example_index
        if self._last_unit is not None:
            unit = min(unit, self._last_unit)
        return self._format(self._unit_key(unit))

    def describe(self) -> str:
        span = f"from {self._format(self.start)}"
        if self._last_unit is not None:
            span += f" to {self._format(self.end)}"
        return f"{self._label()}{self._qualifier()} {span} ({self.timezone})"

    def __repr__(self) -> str:
        end = None if self._last_unit is None else self._format(self.end)
        params = "".join(f", {name}={value!r}" for name, value in self._repr_params())
        return (
            f"{type(self).__name__}({self._repr_prefix()}start={self._format(self.start)!r},"
            f" end={end!r}, timezone={self.timezone!r}{params})"
        )

    # -- internals ---------------------------------------------------------------------

    def _time_limit(self) -> str:
        if self._last_unit is None:
            return ""
        return f" to before {format_instant(self._instant(self._unit_start(self._last_unit + 1)))}"

    def _qualifier(self) -> str:
        return ""

    def _repr_prefix(self) -> str:
        return ""

    def _repr_params(self) -> tuple[tuple[str, Any], ...]:
        return ()

    def _identity(self) -> tuple[Any, ...]:
        last = None if self._last_unit is None else self._unit_start(self._last_unit)
        first = self._unit_start(self._first_unit)
        return (type(self).__name__, self.timezone, first, last, *self._params())

    def _expectation(self) -> str:
        span = f"from {self._format(self.start)}"
        if self._last_unit is not None:
            span += f" to {self._format(self.end)}"
        return f"{self._noun()} {span}"

    def _instant(self, secs: int) -> datetime:
        return from_secs(secs, self._zone)

    def _set(self, lo: int, hi: int) -> PartitionSet:
        start = lo - self._first_unit
        return PartitionSet(self, DefinitionSpace(self), ((start, start + hi - lo + 1),))

    def _space_for(self, keys: Sequence[Any]) -> Space:
        return DefinitionSpace(self)

    def _key_at(self, index: int) -> Any:
        return self._unit_key(self._first_unit + index)

    def _index_of(self, key: Any) -> int | None:
        try:
            return self._checked_unit(key) - self._first_unit
        except InvalidPartition:
            return None

    def _checked_unit(self, key: Any) -> int:
        """The unit of a key that belongs to the definition, else InvalidPartition."""
        if key is None:
            raise self._invalid(None, _MISSING)
        unit = self._parse_unit(key)
        if unit < self._first_unit:
            raise self._invalid(key, f"is before the start {self._format(self.start)}")
        if self._last_unit is not None and unit > self._last_unit:
            raise self._invalid(key, f"is after the end {self._format(self.end)}")
        return unit

    def _bounded(self, unit: int, found: Any, shifted: int | None = None) -> int:
        """Check a computed unit against the bounds, naming how it was computed."""
        how = "" if shifted is None else f" shifted by {shifted}"
        if unit < self._first_unit:
            raise self._invalid(
                found, f"{how} is before the start {self._format(self.start)}".strip()
            )
        if self._last_unit is not None and unit > self._last_unit:
            raise self._invalid(found, f"{how} is after the end {self._format(self.end)}".strip())
        try:
            self._unit_start(unit)
            self._unit_key(unit)
        except (OverflowError, ValueError):
            raise self._invalid(found, f"{how} is beyond the year 9999".strip()) from None
        return unit

    def _moment_secs(self, moment: Any) -> int:
        """The instant of a point in time given as datetime, date or string."""
        if isinstance(moment, str):
            parsed = parse_instant(moment)
            if isinstance(parsed, str):
                day = parse_date(moment)
                if isinstance(day, str):
                    raise self._invalid(moment, parsed, expected="a date and time")
                parsed = datetime.combine(day, datetime.min.time())
            moment = parsed
        if isinstance(moment, datetime):
            if moment.tzinfo is not None:
                return to_secs(moment)
            return self._wall(moment, moment)
        if isinstance(moment, date):
            return midnight_secs(moment, self._zone)
        raise self._invalid(moment, f"is {type_name(moment)}, not a datetime", expected="a time")

    def _wall(self, wall: datetime, found: Any) -> int:
        """The instant of a naive wall-clock time, or InvalidPartition when it is ambiguous
        or skipped in this timezone."""
        try:
            return wall_secs(wall, self._zone)
        except WallTimeError as problem:
            text, fix = problem.describe(self.timezone, wall)
            raise self._invalid(found, text, fix=fix) from None

    def _bound_secs(self, field: str, value: Any, *, upper: bool) -> int:
        """The instant a start bound begins at, or just after an end bound (exclusive)."""
        given = value
        if isinstance(value, str):
            parsed: Any = parse_date(value)
            if isinstance(parsed, str) and self._accepts_times:
                parsed = parse_instant(value)
            if isinstance(parsed, str):
                raise definition_error(
                    self._owner(), field, given, parsed, self._bound_expectation()
                )
            value = parsed
        if isinstance(value, datetime) and self._accepts_times:
            try:
                secs = to_secs(value) if value.tzinfo else wall_secs(value, self._zone)
            except WallTimeError as problem:
                text, fix = problem.describe(self.timezone, value)
                expected = f"a time that exists in {self.timezone}"
                if fix:
                    expected = "a time with its UTC offset" + fix.removeprefix("add the UTC offset")
                raise definition_error(self._owner(), field, given, text, expected) from None
            return secs + 1 if upper else secs
        if isinstance(value, date) and not isinstance(value, datetime):
            return midnight_secs(value + timedelta(days=1) if upper else value, self._zone)
        raise definition_error(
            self._owner(), field, given, f"is {type_name(value)}", self._bound_expectation()
        )

    def _bound_expectation(self) -> str:
        if self._accepts_times:
            return "a date, a datetime or a string like '2024-01-01' or '2024-01-01T06:00'"
        return "a date or a 'YYYY-MM-DD' string, e.g. '2024-01-01'"

    # -- key parsing shared by the kinds -------------------------------------------------

    def _key_date(self, key: Any) -> date:
        """The date of a date-keyed key (a date or a 'YYYY-MM-DD' string)."""
        if isinstance(key, str):
            parsed = parse_date(key)
            if isinstance(parsed, str):
                raise self._invalid(key, parsed)
            return parsed
        if isinstance(key, datetime):
            raise self._invalid(key, "is a datetime, not a date")
        if isinstance(key, date):
            return key
        raise self._invalid(key, f"is {type_name(key)}, not a date or a 'YYYY-MM-DD' string")

    def _key_secs(self, key: Any) -> int:
        """The instant of a time-keyed key (an aware or wall-clock datetime, or a string;
        an instant with a fraction of a second is rejected here as it starts no window)."""
        moment = key
        if isinstance(key, str):
            moment = parse_instant(key)
            if isinstance(moment, str):
                raise self._invalid(key, moment)
        if isinstance(moment, datetime):
            if moment.microsecond:
                raise self._invalid(key, "does not start a window (it has a fraction of a second)")
            return to_secs(moment) if moment.tzinfo else self._wall(moment, key)
        if isinstance(moment, date):
            raise self._invalid(key, "is a date, not a date and time")
        raise self._invalid(key, f"is {type_name(key)}, not a datetime or a date-time string")
