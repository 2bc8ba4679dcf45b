"""Wall time for ticks, leases and heartbeats.

Internal. ``flowstone.clock.utcnow()`` when a wall clock is installed there; otherwise,
with the real actors clock, the system time; with any other actors clock
(``actors.testing.MockClock`` in tests) the clock's seconds are read as a Unix timestamp, so
``MockClock(start=datetime(...).timestamp())`` puts a test at a chosen instant and
``await clock.advance(s)`` moves ticks, leases, heartbeats and timers forward together.
"""

from __future__ import annotations

from datetime import UTC, datetime

import actors
from flowstone.clock import SystemWallClock, get_wall_clock


def wall_now() -> datetime:
    """Return the current time (UTC) as the installed clocks see it."""
    wall = get_wall_clock()
    clock = actors.get_clock()
    if not isinstance(wall, SystemWallClock) or isinstance(clock, actors.MonotonicClock):
        return wall.now()
    return datetime.fromtimestamp(clock.now(), UTC)
