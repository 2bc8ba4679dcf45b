"""Wall-clock time for records, deadlines and ticks, injectable like the actors' clock.

Everything in FlowStone that stamps a record or compares with a stored time asks
``utcnow()``; nothing below the runtime calls ``datetime.now`` itself. Intervals and timers
use the actors clock (``actors.get_clock()``). ``flowstone.testing.use_mock_time`` installs
both at once, driven by one ``actors.testing.MockClock``, so a test moves wall time and
timers together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ("SystemWallClock", "WallClock", "get_wall_clock", "set_wall_clock", "utcnow")


class WallClock(Protocol):
    """A source of timezone-aware UTC datetimes."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemWallClock:
    """The production wall clock: the system time."""

    def now(self) -> datetime:
        """Return ``datetime.now(UTC)``."""
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemWallClock()"


_current: WallClock = SystemWallClock()


def get_wall_clock() -> WallClock:
    """Return the wall clock in use."""
    return _current


def set_wall_clock(clock: WallClock) -> WallClock:
    """Install ``clock`` for the whole process and return the previous one."""
    global _current
    previous, _current = _current, clock
    return previous


def utcnow() -> datetime:
    """Return the current time of the installed wall clock (aware, UTC)."""
    return _current.now()
