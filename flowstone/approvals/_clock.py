"""Wall-clock time for deadlines, driven by the runtime's injectable clock.

Deadlines are instants (stored as ``timeout_at``), but everything that waits in FlowStone
reads ``actors.get_clock()``, a monotonic clock that tests replace with a ``MockClock``.
``WallClock`` reconciles the two: it reads the wall time once, then moves it by exactly as
much as the current clock moved, so advancing a mock clock by an hour makes an hour pass
for every deadline, with no real sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import actors


class WallClock:
    """``now()`` as a UTC datetime that follows ``actors.get_clock()``.

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
        return f"<WallClock {self.now().isoformat()}>"


Now = Callable[[], datetime]
"""Anything that tells the wall time: ``WallClock().now`` or a test's lambda."""
