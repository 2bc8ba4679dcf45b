"""Partition status ranges: the run-length summary of the newest status of every partition
of an asset, kept by the store as records are written.

Internal, not part of the public API (the runtime's ``partition_status`` is the public face).

The store knows partition keys only as strings; it cannot tell which key comes after which.
So the runtime registers, per asset, a ``PartitionOrdinals``: an ordering of the asset's keys
by integers (time windows: the window number; static keys: their list position; see
``flowstone.partitions._order``) with a fingerprint that changes whenever the numbering
would. The store then keeps, per asset, maximal ranges ``[first, last]`` of consecutive
ordinals sharing the status of their newest materialization (``asset_partitions``), plus the
fingerprint the ranges were built with. Invariants: ranges never overlap, two adjacent
ranges never share a status (they would be one), and an ordinal lies in a range exactly
when its partition has a record.

A write changes a handful of ordinals; ``rewrite`` recomputes only the ranges around them,
so the cost of a write is independent of how many partitions the asset has. When the
fingerprint stored differs from the one registered (the definition changed), the ranges are
stale: the writer drops them and ``rebuild`` computes them again from ``asset_partitions``
(once, O(recorded partitions)).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


class PartitionOrdinals(Protocol):
    """Numbers an asset's encoded partition keys (what the store needs to keep ranges)."""

    @property
    def fingerprint(self) -> str:
        """Changes whenever ``ordinal`` would number some key differently."""
        ...

    def ordinal(self, encoded: str | None) -> int | None:
        """Return the number of a key, or None when the key has none (not in the order)."""
        ...


@dataclass(frozen=True, slots=True)
class StatusRange:
    """Consecutive ordinals ``first..last`` (both included) sharing one status."""

    first: int
    last: int
    status: str

    @property
    def count(self) -> int:
        """How many ordinals the range holds."""
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class RangeSummary:
    """What the store holds for one asset: the fingerprint the ranges were built with (None
    when there are none, or they went stale) and the ranges in ordinal order."""

    ordering: str | None
    ranges: tuple[StatusRange, ...] = ()


def run_length(points: Iterable[tuple[int, str]]) -> list[StatusRange]:
    """Compress ``(ordinal, status)`` pairs (any order, ordinals distinct) into ranges."""
    ranges: list[StatusRange] = []
    for ordinal, status in sorted(points):
        last = ranges[-1] if ranges else None
        if last is not None and last.status == status and last.last == ordinal - 1:
            ranges[-1] = StatusRange(last.first, ordinal, status)
        else:
            ranges.append(StatusRange(ordinal, ordinal, status))
    return ranges


def rewrite(
    around: Sequence[StatusRange], changes: Mapping[int, str | None]
) -> tuple[list[StatusRange], list[StatusRange]]:
    """Apply point changes (ordinal -> new status, None = no record any more) to the ranges
    ``around`` them; return ``(ranges to delete, ranges to insert)``.

    ``around`` must hold every stored range that contains a changed ordinal or one next to
    it (``o - 1``, ``o + 1``), so that merges with neighbours are seen; any other ranges in
    it are left as they are. Costs O((len(around) + len(changes)) log), never O(ordinals).
    """
    old = sorted(set(around), key=lambda r: r.first)
    starts = [r.first for r in old]
    pieces: list[StatusRange] = []
    cuts: dict[int, list[int]] = {}
    for ordinal in changes:
        at = bisect.bisect_right(starts, ordinal) - 1
        if at >= 0 and old[at].last >= ordinal:
            cuts.setdefault(at, []).append(ordinal)
    for index, current in enumerate(old):
        cursor = current.first
        for ordinal in sorted(cuts.get(index, ())):
            if cursor < ordinal:
                pieces.append(StatusRange(cursor, ordinal - 1, current.status))
            cursor = ordinal + 1
        if cursor <= current.last:
            pieces.append(StatusRange(cursor, current.last, current.status))
    for ordinal, status in changes.items():
        if status is not None:
            pieces.append(StatusRange(ordinal, ordinal, status))
    merged = _merge(pieces)
    kept = set(old) & set(merged)
    return [r for r in old if r not in kept], [r for r in merged if r not in kept]


def _merge(pieces: list[StatusRange]) -> list[StatusRange]:
    merged: list[StatusRange] = []
    for piece in sorted(pieces, key=lambda r: r.first):
        last = merged[-1] if merged else None
        if last is not None and last.status == piece.status and last.last == piece.first - 1:
            merged[-1] = StatusRange(last.first, piece.last, piece.status)
        else:
            merged.append(piece)
    return merged


def spans(ordinals: Iterable[int]) -> list[tuple[int, int]]:
    """Return the spans ``(a, b)`` whose ranges ``rewrite`` needs: every changed ordinal and
    its two neighbours, merged into as few contiguous spans as possible.

    A store fetches, per span, the range containing ``a`` and the ranges starting in
    ``a + 1..b``: together, every range that meets the span, read through the index on
    ``first`` alone.
    """
    merged: list[tuple[int, int]] = []
    for ordinal in sorted(set(ordinals)):
        a, b = ordinal - 1, ordinal + 1
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def clip(
    ranges: Iterable[StatusRange], first: int | None, last: int | None
) -> tuple[StatusRange, ...]:
    """Return the parts of ``ranges`` within ``first..last`` (None: unbounded)."""
    lo = first if first is not None else -(2**62)
    hi = last if last is not None else 2**62
    return tuple(
        StatusRange(max(r.first, lo), min(r.last, hi), r.status)
        for r in ranges
        if r.last >= lo and r.first <= hi
    )
