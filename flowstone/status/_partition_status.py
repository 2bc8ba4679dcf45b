"""The status of every partition of an asset, as ranges: what ``rt.partition_status`` returns.

Built from the record store's status ranges (``Storage.partition_ranges``), never from the
records themselves: reading the status of a million partitions costs O(ranges). Partitions
never materialized ("missing") are the gaps between ranges within the definition's keys;
partitions of runs in flight ("running") are laid over the recorded status.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from flowstone.partitions._order import PartitionOrder
from flowstone.storage import Storage
from flowstone.storage._ranges import StatusRange, rewrite

#: The statuses every summary reports (a count of 0 when none); recorded statuses beyond
#: these ("skipped", "cancelled") are reported too when present.
STATUSES = ("succeeded", "failed", "running", "waiting", "missing")


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """Consecutive partitions sharing one status: keys ``first..last`` (both included)."""

    status: str
    first: Any
    last: Any
    count: int
    first_ordinal: int
    last_ordinal: int


@dataclass(frozen=True)
class PartitionStatus:
    """The status of every partition of one asset, run-length encoded.

    ``runs`` covers ordinals ``0 .. total - 1`` without gaps, in key order, as
    ``StatusRange`` s; ``ranges[status]`` lists the ``PartitionRange`` s of one status (keys
    decoded on first use); ``counts[status]`` how many partitions have it.
    """

    asset: str
    total: int
    counts: Mapping[str, int]
    runs: tuple[StatusRange, ...]
    order: PartitionOrder = field(repr=False, compare=False)

    @cached_property
    def ranges(self) -> dict[str, list[PartitionRange]]:
        """The ranges of each status, in key order."""
        found: dict[str, list[PartitionRange]] = {status: [] for status in self.counts}
        key_at = self.order.key_at
        for run in self.runs:
            found.setdefault(run.status, []).append(
                PartitionRange(
                    run.status, key_at(run.first), key_at(run.last), run.count, run.first, run.last
                )
            )
        return found

    def to_json(self) -> dict[str, Any]:
        """Return a compact JSON form: ``runs`` alternates a status index (into
        ``statuses``) and a length, covering every partition in key order; a million
        hourly partitions with a few thousand changes of status take a few kilobytes."""
        statuses = list(self.counts)
        index = {status: i for i, status in enumerate(statuses)}
        flat: list[int] = []
        for run in self.runs:
            flat += (index[run.status], run.count)
        encode = self.order.encoded_at
        return {
            "asset": self.asset,
            "total": self.total,
            "counts": dict(self.counts),
            "statuses": statuses,
            "runs": flat,
            "first_key": encode(0) if self.total else None,
            "last_key": encode(self.total - 1) if self.total else None,
        }


async def partition_status(
    storage: Storage,
    asset: str,
    order: PartitionOrder,
    *,
    running: Iterable[str | None] = (),
    now: datetime | None = None,
) -> PartitionStatus:
    """Summarize the status of every partition of ``asset``.

    Args:
        storage: the record store; ``order`` must be registered with it for ``asset``
            (``storage.order_partitions``) so that it maintains the ranges.
        order: the numbering of the asset's keys.
        running: encoded keys of the asset's partitions in runs in flight.
        now: the instant open time windows are counted up to (default: now).
    """
    recorded = await _recorded_ranges(storage, asset, order)
    in_flight = {o for o in (order.ordinal(p) for p in running) if o is not None}
    if in_flight:
        doomed, added = rewrite(recorded, dict.fromkeys(in_flight, "running"))
        recorded = sorted(set(recorded) - set(doomed) | set(added), key=lambda r: r.first)
    size = order.size(now)
    end = max(size, recorded[-1].last + 1 if recorded else 0)
    runs = tuple(_with_gaps(recorded, end, "missing"))
    counts = dict.fromkeys(STATUSES, 0)
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + run.count
    return PartitionStatus(asset, end, counts, runs, order)


async def _recorded_ranges(
    storage: Storage, asset: str, order: PartitionOrder
) -> list[StatusRange]:
    if order.definition is None:
        # One partition: its pointer row is its status; the store keeps no ranges for it.
        status = (await storage.latest_statuses(asset)).get(None)
        return [] if status is None else [StatusRange(0, 0, status)]
    summary = await storage.partition_ranges(asset)
    if summary.ordering != order.fingerprint:
        summary = await storage.rebuild_partition_ranges(asset)
    return list(summary.ranges)


def _with_gaps(ranges: Iterable[StatusRange], end: int, status: str) -> Iterator[StatusRange]:
    """Yield ``ranges`` with every gap in ``0 .. end - 1`` filled by ``status``; negative
    ordinals (keys before a moved start) are left out."""
    cursor = 0
    for r in ranges:
        if r.last < 0:
            continue
        if r.first > cursor:
            yield StatusRange(cursor, r.first - 1, status)
        yield StatusRange(max(r.first, 0), r.last, r.status)
        cursor = r.last + 1
    if cursor < end:
        yield StatusRange(cursor, end - 1, status)
