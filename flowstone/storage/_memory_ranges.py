"""Status ranges held in memory (``MemoryStorage``'s summary; see ``_ranges``).

Internal, not part of the public API.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping

from flowstone.storage._ranges import RangeSummary, StatusRange, clip, rewrite, spans


class RangeTable:
    """The ranges of one asset, sorted by ``first``, with the fingerprint they follow."""

    def __init__(self, ordering: str, ranges: list[StatusRange] | None = None) -> None:
        self.ordering = ordering
        self._ranges: list[StatusRange] = sorted(ranges or [], key=lambda r: r.first)
        self._starts = [r.first for r in self._ranges]

    def apply(self, changes: Mapping[int, str | None]) -> None:
        """Set the status of some ordinals (None: no record any more)."""
        around: set[StatusRange] = set()
        for a, b in spans(changes):
            around.update(self.window(a, b))
        doomed, added = rewrite(sorted(around, key=lambda r: r.first), changes)
        for r in doomed:
            at = bisect.bisect_left(self._starts, r.first)
            del self._ranges[at], self._starts[at]
        for r in added:
            at = bisect.bisect_left(self._starts, r.first)
            self._ranges.insert(at, r)
            self._starts.insert(at, r.first)

    def window(self, first: int | None, last: int | None) -> list[StatusRange]:
        """Return the ranges meeting ``first..last`` (unclipped), in order."""
        lo = 0
        if first is not None:
            lo = max(0, bisect.bisect_right(self._starts, first) - 1)
        hi = len(self._ranges) if last is None else bisect.bisect_right(self._starts, last)
        found = self._ranges[lo:hi]
        if found and first is not None and found[0].last < first:
            found = found[1:]
        return found

    def summary(self, first: int | None, last: int | None) -> RangeSummary:
        """Return the ranges within ``first..last``."""
        return RangeSummary(self.ordering, clip(self.window(first, last), first, last))
