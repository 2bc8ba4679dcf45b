"""A growable cache of cron fire times, as epoch seconds in one compact array (internal).

Cron windows cannot be numbered arithmetically, so their starts are computed with
APScheduler and kept in an ``array('q')``: 8 bytes per window rather than a datetime each.
Index 0 is the first fire time at or after the definition's start; the cache grows forward
on demand and backward (negative indices) when a mapping looks before the start.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from datetime import tzinfo

from apscheduler.triggers.base import BaseTrigger

from ._zone import from_secs, to_secs

_BATCH = 512
_DAY = 86_400
_MAX_LOOKBACK = 800 * 366 * _DAY  # crontab calendars repeat every 400 years


class FireTimes:
    """Fire times of one trigger from an anchor, numbered from 0 (internal)."""

    def __init__(
        self, trigger: BaseTrigger, zone: tzinfo, lower: int, *, skip_repeated: bool
    ) -> None:
        self._trigger = trigger
        self._zone = zone
        self._skip_repeated = skip_repeated
        first = self.next_after(lower - 1)
        self.exhausted = first is None
        self._times = array("q", [] if first is None else [first])
        self._base = 0  # the index of _times[0]
        # Equal definitions share a cache (see _cron); growth must not interleave if they
        # are used from several threads.
        self._lock = threading.RLock()

    def next_after(self, secs: int) -> int | None:
        """The first fire time strictly after ``secs``, or None when there is none."""
        probe = secs + 1
        while True:
            fire = self._trigger.get_next_fire_time(None, from_secs(probe, self._zone))
            if fire is None:
                return None
            found = to_secs(fire)
            if found <= secs:  # never step backwards, whatever the trigger returns
                probe = max(probe, found) + 1
                continue
            # Like cron, an expression naming hours fires once in the hour that repeats
            # when clocks go back; "every hour" still fires in both.
            if self._skip_repeated and from_secs(found, self._zone).fold == 1:
                probe = found + 1
                secs = found
                continue
            return found

    def start(self, index: int) -> int:
        """The start of window ``index``.

        Raises:
            OverflowError: there is no such fire time (past year 9999 or before year 1)."""
        with self._lock:
            while index >= self._base + len(self._times):
                self._grow_forward()
            while index < self._base:
                self._grow_backward()
            return self._times[index - self._base]

    def index_at(self, secs: int) -> int:
        """The index of the last fire time at or before ``secs`` (-1 and below before the
        first one; the cache grows backward as far as needed)."""
        with self._lock:
            while self._times[-1] <= secs and not self._grow_forward(required=False):
                pass
            while self._times[0] > secs:
                try:
                    self._grow_backward()
                except OverflowError:
                    return self._base - 1
            return self._base + bisect.bisect_right(self._times, secs) - 1

    def _grow_forward(self, *, required: bool = True) -> bool:
        """Append a batch of fire times; return whether the schedule has run out."""
        last = self._times[-1]
        added = 0
        while added < _BATCH:
            nxt = self.next_after(last)
            if nxt is None:
                if required and not added:
                    raise OverflowError("no more fire times")
                return True
            self._times.append(nxt)
            last, added = nxt, added + 1
        return False

    def _grow_backward(self) -> None:
        first = self._times[0]
        span = _DAY
        while span <= _MAX_LOOKBACK:
            earlier = self._fires_between(first - span, first)
            if earlier:
                self._times[0:0] = array("q", earlier)
                self._base -= len(earlier)
                return
            span *= 4
        raise OverflowError("no earlier fire times")

    def _fires_between(self, lo: int, hi: int) -> list[int]:
        found: list[int] = []
        cursor = self.next_after(lo - 1)
        while cursor is not None and cursor < hi:
            found.append(cursor)
            cursor = self.next_after(cursor)
        return found
