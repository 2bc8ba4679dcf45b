"""``RestartIntensity``: OTP's restart limit, over a sliding window of exact seconds.

Internal, not part of the public API. OTP (``supervisor:add_restart/1``) keeps the time of
every restart in the last ``period`` seconds, *including* the left edge, adds the restart
being attempted, and gives up when the count exceeds ``intensity``. One entry per
*decision* to restart: a one_for_all group restart is one entry; a failed attempt that is
retried adds another. OTP truncates times to whole seconds; we keep the clock's exact
reading (docs/adr/0002-restart-intensity-window.md explains why).
"""

from __future__ import annotations

from collections import deque
from typing import final


@final
class RestartIntensity:
    """Internal: the restart times of one supervisor inside its window."""

    __slots__ = ("_times", "max_restarts", "max_seconds", "total")

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.total = 0
        # Oldest first. It never holds more than max_restarts + 1 entries: one more and the
        # supervisor gives up, so trimming from the left is amortised O(1).
        self._times: deque[float] = deque()

    def add(self, now: float) -> bool:
        """Record a restart attempted at ``now``; return False if that is one too many."""
        self._trim(now)
        self._times.append(now)
        self.total += 1
        return len(self._times) <= self.max_restarts

    def in_window(self, now: float) -> int:
        """Return how many restarts happened within ``max_seconds`` before ``now``."""
        threshold = now - self.max_seconds
        return sum(1 for t in self._times if t >= threshold)

    def _trim(self, now: float) -> None:
        threshold = now - self.max_seconds
        times = self._times
        while times and times[0] < threshold:  # a restart exactly max_seconds ago still counts
            times.popleft()

    def __repr__(self) -> str:
        return (
            f"<RestartIntensity {len(self._times)}/{self.max_restarts} "
            f"in {self.max_seconds:g} s, {self.total} in total>"
        )
