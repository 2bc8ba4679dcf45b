"""Partition sets: lazy, range-based collections of keys of one definition."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from itertools import accumulate, chain
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from ..errors import InvalidPartition
from ._runs import Runs, difference, intersection, normalize, union

if TYPE_CHECKING:
    from ._definition import PartitionsDefinition
    from ._space import Space


class StatusRun(NamedTuple):
    """A run of consecutive keys of a set sharing one status (see ``PartitionSet.summarize``)."""

    first: Any
    last: Any
    status: str | None
    count: int  # type: ignore[assignment]  # the field shadows tuple.count on purpose


class PartitionSet:
    """Keys of one partitions definition, in key order, stored as index ranges.

    Counting, indexing, slicing, membership and summaries cost O(number of ranges), never
    O(number of keys): 87,600 hourly keys are one range of two integers. Keys are only
    built when iterated. Sets come from ``definition.all()``, ``definition.range()``,
    ``PartitionSet.from_keys()`` and the set operators ``|``, ``&`` and ``-``.
    """

    __slots__ = ("_offsets", "_runs", "_space", "definition")

    def __init__(
        self, definition: PartitionsDefinition, space: Space, runs: Iterable[tuple[int, int]]
    ) -> None:
        """Internal: build a set from half-open index runs over ``space``."""
        self.definition = definition
        self._space = space
        self._runs: Runs = normalize(runs)
        # _offsets[i] = position in the set of the first key of run i; the last item is len
        self._offsets = (0, *accumulate(hi - lo for lo, hi in self._runs))

    @classmethod
    def from_keys(cls, definition: PartitionsDefinition, keys: Iterable[Any]) -> PartitionSet:
        """Build a set from explicit keys (any accepted form; duplicates collapse).

        Raises:
            InvalidPartition: a key does not belong to the definition.
        """
        canonical = [definition.validate(key) for key in keys]
        space = definition._space_for(canonical)
        indices = sorted({_index(space, key) for key in canonical})
        return cls(definition, space, ((i, i + 1) for i in indices))

    @classmethod
    def empty(cls, definition: PartitionsDefinition) -> PartitionSet:
        """The set with no keys."""
        return cls(definition, definition._space_for([]), ())

    # -- sequence protocol ------------------------------------------------------------

    def __len__(self) -> int:
        return self._offsets[-1]

    def __bool__(self) -> bool:
        return bool(self._runs)

    @overload
    def __getitem__(self, position: int) -> Any: ...
    @overload
    def __getitem__(self, position: slice) -> PartitionSet: ...
    def __getitem__(self, position: int | slice) -> Any:
        if isinstance(position, slice):
            return self._slice(position)
        return self._space.key_at(self._index_at(position))

    def __iter__(self) -> Iterator[Any]:
        key_at = self._space.key_at
        for lo, hi in self._runs:
            for index in range(lo, hi):
                yield key_at(index)

    def __contains__(self, key: object) -> bool:
        try:
            canonical = self.definition.validate(key)
        except InvalidPartition:
            return False
        index = self._space.index_of(canonical)
        return index is not None and self._position_of_index(index) is not None

    @property
    def first(self) -> Any:
        """The first key, or None when the set is empty."""
        return self[0] if self else None

    @property
    def last(self) -> Any:
        """The last key, or None when the set is empty."""
        return self[-1] if self else None

    def encoded(self) -> Iterator[str]:
        """The keys' canonical strings, in key order."""
        encode = self.definition.encode
        return (encode(key) for key in self)

    def chunks(self, size: int) -> Iterator[PartitionSet]:
        """Split into consecutive sets of at most ``size`` keys (bounded-memory backfills)."""
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"chunk size must be a positive int; found {size!r}")
        for start in range(0, len(self), size):
            yield self._slice(slice(start, start + size))

    def index_of(self, key: Any) -> int:
        """The position of ``key`` in this set.

        Raises:
            InvalidPartition: the key is not in the set."""
        canonical = self.definition.validate(key)
        index = self._space.index_of(canonical)
        position = None if index is None else self._position_of_index(index)
        if position is None:
            raise InvalidPartition(
                f"partition {self.definition.encode(canonical)!r} is not in {self!r}"
            )
        return position

    # -- set algebra ------------------------------------------------------------------

    def union(self, other: PartitionSet) -> PartitionSet:
        """Keys in either set."""
        if self._compatible(other):
            return PartitionSet(self.definition, self._space, union(self._runs, other._runs))
        return PartitionSet.from_keys(self.definition, chain(self, other))

    def intersection(self, other: PartitionSet) -> PartitionSet:
        """Keys in both sets."""
        if self._compatible(other):
            return PartitionSet(self.definition, self._space, intersection(self._runs, other._runs))
        return PartitionSet.from_keys(self.definition, (k for k in self if k in other))

    def difference(self, other: PartitionSet) -> PartitionSet:
        """Keys of this set that are not in ``other``."""
        if self._compatible(other):
            return PartitionSet(self.definition, self._space, difference(self._runs, other._runs))
        return PartitionSet.from_keys(self.definition, (k for k in self if k not in other))

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionSet):
            return NotImplemented
        if self._space == other._space:
            return self.definition == other.definition and self._runs == other._runs
        return self.definition == other.definition and set(self.encoded()) == set(other.encoded())

    __hash__ = None  # type: ignore[assignment]

    # -- summaries --------------------------------------------------------------------

    def summarize(
        self, encoded_statuses: Mapping[str, str], *, missing: str | None = None
    ) -> list[StatusRun]:
        """Compress per-key statuses into runs of equal status, in key order.

        ``encoded_statuses`` maps encoded keys to a status (e.g. the record store's latest
        status per partition); keys of this set absent from it get ``missing``; entries that
        are not keys of this set are ignored. Costs O(len(encoded_statuses)), not O(len(self)),
        so 87,600 hourly partitions with a few hundred materializations summarize at once.
        """
        marks: list[tuple[int, str | None]] = []
        for text, status in encoded_statuses.items():
            position = self._position_of_text(text)
            if position is not None:
                marks.append((position, status))
        marks.sort(key=lambda mark: mark[0])
        spans: list[list[Any]] = []  # [first position, last position, status]
        cursor = 0
        for position, mark in marks:
            if position < cursor:  # a second spelling of a key already counted
                continue
            if position > cursor:
                _extend(spans, cursor, position - 1, missing)
            _extend(spans, position, position, mark)
            cursor = position + 1
        if cursor < len(self):
            _extend(spans, cursor, len(self) - 1, missing)
        return [StatusRun(self[lo], self[hi], status, hi - lo + 1) for lo, hi, status in spans]

    # -- internals ----------------------------------------------------------------------

    def _compatible(self, other: PartitionSet) -> bool:
        if not isinstance(other, PartitionSet) or other.definition != self.definition:
            raise InvalidPartition(
                f"cannot combine partition sets of different definitions: {self.definition!r}"
                f" and {getattr(other, 'definition', other)!r}"
            )
        return other._space == self._space

    def _index_at(self, position: int) -> int:
        size = len(self)
        if position < 0:
            position += size
        if not 0 <= position < size:
            raise IndexError(f"partition set index {position} out of range (size {size})")
        run = bisect.bisect_right(self._offsets, position) - 1
        return self._runs[run][0] + position - self._offsets[run]

    def _position_of_index(self, index: int) -> int | None:
        run = bisect.bisect_right(self._runs, (index, float("inf"))) - 1
        if run < 0 or index >= self._runs[run][1]:
            return None
        return self._offsets[run] + index - self._runs[run][0]

    def _position_of_text(self, text: str) -> int | None:
        try:
            key = self.definition.decode(text)
        except InvalidPartition:
            return None
        index = self._space.index_of(key)
        return None if index is None else self._position_of_index(index)

    def _slice(self, part: slice) -> PartitionSet:
        start, stop, step = part.indices(len(self))
        if step != 1:
            raise ValueError("partition sets slice with step 1 only")
        runs: tuple[tuple[int, int], ...] = ()
        if start < stop:
            first, last = self._index_at(start), self._index_at(stop - 1)
            runs = intersection(self._runs, ((first, last + 1),))
        return PartitionSet(self.definition, self._space, runs)

    def __repr__(self) -> str:
        size = len(self)
        if not size:
            return f"<PartitionSet of {self.definition.describe()}: empty>"
        encode = self.definition.encode
        span = encode(self[0]) if size == 1 else f"{encode(self[0])} .. {encode(self[-1])}"
        noun = "key" if size == 1 else "keys"
        runs = "" if len(self._runs) == 1 else f" in {len(self._runs)} ranges"
        return f"<PartitionSet of {self.definition.describe()}: {size} {noun}{runs}, {span}>"


def _index(space: Space, key: Any) -> int:
    index = space.index_of(key)
    if index is None:  # _space_for builds a space holding every key it is given
        raise AssertionError(f"space {space!r} does not hold key {key!r}")
    return index


def _extend(spans: list[list[Any]], lo: int, hi: int, status: str | None) -> None:
    if spans and spans[-1][2] == status and spans[-1][1] == lo - 1:
        spans[-1][1] = hi
    else:
        spans.append([lo, hi, status])
