"""A wall clock driven by the actors clock, for deadline tests.

Deadlines are instants (stored as ``timeout_at``) read from ``flowstone.clock.utcnow()``,
while everything that waits reads ``actors.get_clock()``, a monotonic clock that tests
replace with a ``MockClock``. ``DrivenWallClock`` reconciles the two: installed with
``flowstone.clock.set_wall_clock``, it reads the wall time once, then moves it by exactly as
much as the actors clock moved, so advancing a mock clock by an hour makes an hour pass for
every record and deadline, with no real sleep.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import actors


class DrivenWallClock:
    """``now()`` as a UTC datetime that follows ``actors.get_clock()`` (a
    ``flowstone.clock.WallClock``).

    Args:
        start: the wall time the first reading is anchored to (default: the real time).
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start
        self._anchor: tuple[actors.Clock, float, datetime] | None = None

    def now(self) -> datetime:
        """Return the current wall time (UTC)."""
        clock = actors.get_clock()
        if self._anchor is None or self._anchor[0] is not clock:
            # A newly installed clock (a test's MockClock) starts its own timeline from the
            # wall time reached so far, so time never runs backwards across the switch.
            reached = self._start or datetime.now(UTC)
            if self._anchor is not None:
                reached = self._read(self._anchor)
            self._anchor = (clock, clock.now(), reached)
        return self._read(self._anchor)

    @staticmethod
    def _read(anchor: tuple[actors.Clock, float, datetime]) -> datetime:
        clock, mono, wall = anchor
        return wall + timedelta(seconds=clock.now() - mono)

    def __repr__(self) -> str:
        return f"<DrivenWallClock {self.now().isoformat()}>"
