"""The time-window mapping: partitions relate by overlapping windows of time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...errors import DefinitionError
from .._definition import PartitionsDefinition
from .._set import PartitionSet
from .._time_window import TimeWindowPartitions
from .._zone import to_secs
from ._mapping import Keys, PartitionMapping, describe


@dataclass(frozen=True)
class TimeWindowMapping(PartitionMapping):
    """A downstream window needs every upstream window overlapping it, after widening it
    by ``start_offset`` / ``end_offset`` downstream windows.

    ``TimeWindowMapping()`` maps a day to its 24 hourly upstream partitions (23 or 25 when
    clocks change), an hour to the day containing it, a day to its week. With
    ``start_offset=-1, end_offset=-1`` today needs yesterday (a cumulative asset over
    itself). Upstream windows outside the upstream definition are dropped, so the first
    day of a self-dependent asset needs nothing.
    """

    start_offset: int = 0
    end_offset: int = 0

    def __post_init__(self) -> None:
        for name in ("start_offset", "end_offset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise DefinitionError(
                    f"TimeWindowMapping {name} {value!r} is not an int; expected a number of"
                    " downstream windows, e.g. -1 for the previous one"
                )
        if self.start_offset > self.end_offset:
            raise DefinitionError(
                f"TimeWindowMapping start_offset {self.start_offset} is after end_offset"
                f" {self.end_offset}; expected start_offset <= end_offset, e.g."
                " TimeWindowMapping(start_offset=-1, end_offset=-1) for the previous window"
            )

    def upstream_keys(
        self,
        downstream_key: Any,
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        self._require(downstream, upstream)
        assert isinstance(downstream, TimeWindowPartitions)
        assert isinstance(upstream, TimeWindowPartitions)
        unit = downstream._checked_unit(downstream_key)
        try:
            lo_secs = downstream._unit_start(unit + self.start_offset)
            hi_secs = downstream._unit_start(unit + self.end_offset + 1)
        except (OverflowError, ValueError):  # shifted past year 1 or 9999: nothing there
            return PartitionSet.empty(upstream)
        return _clamped(upstream, upstream._unit_at(lo_secs), upstream._unit_at(hi_secs - 1), None)

    def downstream_keys(
        self,
        upstream_key: Any,
        upstream: PartitionsDefinition | None,
        downstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        self._require(downstream, upstream)
        assert isinstance(downstream, TimeWindowPartitions)
        assert isinstance(upstream, TimeWindowPartitions)
        unit = upstream._checked_unit(upstream_key)
        lo_secs, hi_secs = upstream._unit_start(unit), upstream._unit_start(unit + 1)
        # d reads u when u overlaps [start(d + start_offset), start(d + end_offset + 1))
        lo = downstream._unit_at(lo_secs) - self.end_offset
        hi = downstream._unit_at(hi_secs - 1) - self.start_offset
        return _clamped(downstream, lo, hi, now)

    def problems(
        self, downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
    ) -> list[str]:
        found = []
        for side, definition in (("downstream", downstream), ("upstream", upstream)):
            if not isinstance(definition, TimeWindowPartitions):
                found.append(
                    f"TimeWindowMapping needs time-window partitions on both sides; the {side}"
                    f" has {describe(definition)}"
                )
        return found


def _clamped(
    definition: TimeWindowPartitions, lo: int, hi: int, now: datetime | None
) -> PartitionSet:
    """The windows lo..hi (units, inclusive) that exist in ``definition`` (and, with
    ``now``, are complete at ``now``)."""
    lo = max(lo, definition._first_unit)
    if definition._last_unit is not None:
        hi = min(hi, definition._last_unit)
    if now is not None:
        hi = min(hi, definition._unit_at(to_secs(now)) - 1)
    if lo > hi:
        return PartitionSet.empty(definition)
    return definition._set(lo, hi)
