"""Partition orders: numbering every key of a definition by consecutive integers (ordinals),
so that statuses can be kept and shown as ranges of ordinals.

The order is the definition's own key order where it has one, chosen so that keys added
later (the next hour, a new dynamic key) get new numbers at the end instead of shifting the
numbers already given:

- time windows: the window's number from the start (``0`` is the first window);
- static keys: their position in the list;
- dynamic keys: their position among the stored keys, in insertion order;
- multi keys: mixed radix with the time dimension (if any) most significant, then the other
  dimensions in definition order; so the ordinals of a tenant × day asset run day by day,
  every tenant within a day, and a new day appends;
- the unpartitioned asset: the single ordinal 0.

``fingerprint`` names the numbering; it changes when the numbering of existing keys would
(static keys edited, a start moved, a dimension other than the first grew), which tells the
record store its ranges are stale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..errors import InvalidPartition
from ._definition import PartitionsDefinition
from ._dynamic import DynamicPartitions
from ._multi import MultiPartitions
from ._static import StaticPartitions
from ._time_window import TimeWindowPartitions

DynamicKeys = Callable[[str], Sequence[str]]
"""Returns the stored keys of a dynamic partitions set, by its name, in insertion order."""


class PartitionOrder:
    """Numbers the keys of one partitions definition (or of an unpartitioned asset).

    Args:
        definition: the asset's partitions, or None for an unpartitioned asset.
        dynamic_keys: how to read the current keys of a dynamic set by name (the runtime
            passes its cache of the stored keys).
    """

    def __init__(
        self,
        definition: PartitionsDefinition | None,
        dynamic_keys: DynamicKeys | None = None,
    ) -> None:
        self.definition = definition
        self._dynamic_keys: DynamicKeys = dynamic_keys or (lambda name: ())
        self._axes = self._make_axes(definition)

    def _make_axes(self, definition: PartitionsDefinition | None) -> list[_Axis]:
        if definition is None:
            return []
        if isinstance(definition, MultiPartitions):
            names = list(definition.dimensions)
            time = definition.time_dimension
            if time is not None:
                names.remove(time)
                names.insert(0, time)
            return [_Axis(n, definition.dimensions[n], self._dynamic_keys) for n in names]
        return [_Axis(None, definition, self._dynamic_keys)]

    # -- the numbering --------------------------------------------------------------------

    @property
    def fingerprint(self) -> str:
        """Changes whenever some key's ordinal would."""
        if self.definition is None:
            return "unpartitioned"
        # Only the most significant axis may grow without renumbering the keys after it.
        sizes = ",".join(str(axis.size(None)) for axis in self._axes[1:])
        return f"{self.definition!r}|{sizes}"

    def ordinal(self, encoded: str | None) -> int | None:
        """Return the ordinal of an encoded key, or None when it has none."""
        if self.definition is None:
            return 0 if encoded is None else None
        if encoded is None:
            return None
        try:
            key = self.definition.decode(encoded)
        except InvalidPartition:
            return None
        if len(self._axes) == 1 and self._axes[0].name is None:
            return self._axes[0].index(key)
        total = 0
        for axis in self._axes:
            index = axis.index(key[axis.name])
            if index is None:
                return None
            total = total * axis.radix() + index
        return total

    def key_at(self, ordinal: int) -> Any:
        """Return the (decoded) key numbered ``ordinal``; None for the unpartitioned asset."""
        if self.definition is None:
            return None
        if len(self._axes) == 1 and self._axes[0].name is None:
            return self._axes[0].key_at(ordinal)
        values: dict[str, Any] = {}
        for axis in reversed(self._axes[1:]):
            ordinal, digit = divmod(ordinal, axis.radix())
            values[str(axis.name)] = axis.key_at(digit)
        first = self._axes[0]
        values[str(first.name)] = first.key_at(ordinal)
        return {name: values[name] for name in self.definition.dimensions}  # type: ignore[attr-defined]

    def encoded_at(self, ordinal: int) -> str | None:
        """Return the encoded key numbered ``ordinal``."""
        key = self.key_at(ordinal)
        return None if self.definition is None else self.definition.encode(key)

    def size(self, now: datetime | None = None) -> int:
        """Return how many keys the definition has (as of ``now`` for open time windows);
        they hold ordinals ``0 .. size - 1``."""
        if self.definition is None:
            return 1
        total = 1
        for axis in self._axes:
            total *= axis.size(now)
        return total


class _Axis:
    """One dimension of the numbering (the whole definition when not multi)."""

    def __init__(
        self, name: str | None, definition: PartitionsDefinition, dynamic_keys: DynamicKeys
    ) -> None:
        self.name = name
        self.definition = definition
        self._dynamic_keys = dynamic_keys
        self._positions: tuple[int, int, dict[str, int]] = (0, -1, {})

    def _position(self, key: str) -> int | None:
        stored = self._stored()
        ident, size, positions = self._positions
        if ident != id(stored) or size != len(stored):
            positions = {k: i for i, k in enumerate(stored)}
            self._positions = (id(stored), len(stored), positions)
        return positions.get(key)

    def _stored(self) -> Sequence[str]:
        assert isinstance(self.definition, DynamicPartitions)
        return self._dynamic_keys(self.definition.name)

    def index(self, key: Any) -> int | None:
        definition = self.definition
        if isinstance(definition, TimeWindowPartitions | StaticPartitions):
            found: int | None = definition._index_of(key)
            return found
        if isinstance(definition, DynamicPartitions):
            return self._position(key) if isinstance(key, str) else None
        return None

    def key_at(self, index: int) -> Any:
        definition = self.definition
        if isinstance(definition, TimeWindowPartitions | StaticPartitions):
            return definition._key_at(index)
        return self._stored()[index]

    def size(self, now: datetime | None) -> int:
        definition = self.definition
        if isinstance(definition, DynamicPartitions):
            return len(self._stored())
        return len(definition.all(now=now))

    def radix(self) -> int:
        """The size that one step of the previous axis skips (this axis' size, at least 1)."""
        return max(1, self.size(None))
