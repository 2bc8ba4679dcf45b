"""Wall time for ticks, leases and heartbeats, read from the actors clock.

Internal. With the real clock (``actors.MonotonicClock``) this is ``datetime.now(UTC)``;
with any other clock (``actors.testing.MockClock`` in tests) the clock's seconds are read as
a Unix timestamp, so ``MockClock(start=datetime(...).timestamp())`` puts a test at a chosen
instant and ``await clock.advance(s)`` moves ticks, leases and heartbeats forward together.
"""

from __future__ import annotations

from datetime import UTC, datetime

import actors


def wall_now() -> datetime:
    """Return the current time (UTC) as the installed clock sees it."""
    clock = actors.get_clock()
    if isinstance(clock, actors.MonotonicClock):
        return datetime.now(UTC)
    return datetime.fromtimestamp(clock.now(), UTC)
