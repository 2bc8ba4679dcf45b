"""Time zones and instants.

Internally an instant is an ``int`` of seconds since the Unix epoch: windows start on whole
seconds, integer arithmetic is exact, and no ``datetime`` is built until a key is asked for.
Comparisons never use aware datetimes directly: two datetimes sharing a ``ZoneInfo``
compare by wall clock and ignore ``fold`` (PEP 495), so the two 02:00 hours of a night when
clocks go back would compare equal.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._encoding import format_instant

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = 3600


def load_zone(name: object) -> ZoneInfo | None:
    """Return the ZoneInfo for an IANA name (or an object with a ``key``), else None."""
    if isinstance(name, ZoneInfo):
        return name
    if name is UTC:
        name = "UTC"
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def to_secs(moment: datetime) -> int:
    """Seconds since the epoch of an aware datetime, floored to the second."""
    return (moment - EPOCH) // SECOND


def from_secs(secs: int, zone: tzinfo) -> datetime:
    """The aware datetime in ``zone`` of an instant (with ``fold`` set right)."""
    return (EPOCH + timedelta(seconds=secs)).astimezone(zone)


def midnight_secs(day: date, zone: tzinfo) -> int:
    """The instant a local day starts.

    Where midnight does not exist (clocks jump forward at midnight, as in
    America/Santiago), ``fold=0`` reads it with the offset in force before the jump, which
    lands exactly on the first instant of the day."""
    return to_secs(datetime.combine(day, time(), tzinfo=zone))


class WallTimeError(Exception):
    """A local wall-clock time that names no instant or two of them (internal)."""

    def __init__(self, ambiguous: bool, first: datetime, second: datetime) -> None:
        super().__init__(ambiguous, first, second)
        self.ambiguous = ambiguous
        self.first = first  # the earlier reading
        self.second = second  # the later reading

    def describe(self, zone_name: str, wall: datetime) -> tuple[str, str | None]:
        """Say what is wrong with the wall time and, when one helps, how to write it."""
        clock = wall.isoformat(timespec="minutes")[11:]
        if self.ambiguous:
            return (
                f"is ambiguous in {zone_name} (clocks go back and {clock} happens twice)",
                f"add the UTC offset, e.g. {format_instant(self.first)!r}"
                f" or {format_instant(self.second)!r}",
            )
        return f"does not exist in {zone_name} (clocks skip {clock} when they go forward)", None


def wall_secs(wall: datetime, zone: tzinfo) -> int:
    """The instant of a naive local wall-clock time in ``zone``.

    Raises WallTimeError when the wall time falls in a gap (clocks go forward) or in the
    repeated hour (clocks go back): guessing there would silently pick the wrong hour."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return to_secs(first)
    round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    earlier, later = sorted(to_secs(reading) for reading in (first, second))
    raise WallTimeError(round_trip == wall, from_secs(earlier, zone), from_secs(later, zone))
