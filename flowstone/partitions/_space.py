"""Index spaces: the numbering that lets a partition set be a list of index ranges.

A ``PartitionSet`` never stores keys. It stores half-open index runs over a space, and the
space turns an index into a key (``key_at``) and back (``index_of``). Time windows number
their windows arithmetically, static partitions number their key list, a dynamic set
numbers the stored keys it was built from, and a multi set numbers the cartesian product
of one range per dimension (mixed radix, first dimension most significant). Internal.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._definition import PartitionsDefinition


class Space(ABC):
    """A numbering of keys by integers (internal, not part of the public API)."""

    @abstractmethod
    def key_at(self, index: int) -> Any:
        """The canonical key numbered ``index``."""

    @abstractmethod
    def index_of(self, key: Any) -> int | None:
        """The number of a canonical key, or None when the space does not hold it."""


class DefinitionSpace(Space):
    """The definition's own numbering (time windows: windows since the start; static
    partitions: position in the key list)."""

    __slots__ = ("definition",)

    def __init__(self, definition: PartitionsDefinition) -> None:
        self.definition = definition

    def key_at(self, index: int) -> Any:
        return self.definition._key_at(index)  # type: ignore[attr-defined]

    def index_of(self, key: Any) -> int | None:
        result: int | None = self.definition._index_of(key)  # type: ignore[attr-defined]
        return result

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DefinitionSpace) and other.definition == self.definition

    def __hash__(self) -> int:
        return hash(self.definition)

    def __reduce__(self) -> tuple[Any, ...]:
        return (DefinitionSpace, (self.definition,))


class ListSpace(Space):
    """An explicit list of distinct string keys (dynamic partitions)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self.keys)}

    def key_at(self, index: int) -> Any:
        return self.keys[index]

    def index_of(self, key: Any) -> int | None:
        return self._positions.get(key) if isinstance(key, str) else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListSpace) and other.keys == self.keys

    def __hash__(self) -> int:
        return hash(self.keys)

    def __reduce__(self) -> tuple[Any, ...]:
        return (ListSpace, (self.keys,))


class Axis:
    """One dimension of a product space: indices ``lo <= i < hi`` of ``space``."""

    __slots__ = ("hi", "lo", "space")

    def __init__(self, space: Space, lo: int, hi: int) -> None:
        self.space, self.lo, self.hi = space, lo, hi

    @property
    def size(self) -> int:
        return max(0, self.hi - self.lo)

    def _key(self) -> tuple[Any, ...]:
        return (self.space, self.lo, self.hi)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Axis) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        return (Axis, self._key())


class ProductSpace(Space):
    """The cartesian product of named axes; keys are dicts in dimension order."""

    def __init__(self, names: Sequence[str], axes: Sequence[Axis]) -> None:
        self.names = tuple(names)
        self.axes = tuple(axes)
        # strides[i] = how many keys one step of axis i skips (mixed radix)
        strides = [1] * len(self.axes)
        for i in range(len(self.axes) - 2, -1, -1):
            strides[i] = strides[i + 1] * self.axes[i + 1].size
        self.strides = tuple(strides)
        self.size = strides[0] * self.axes[0].size if self.axes else 0

    def key_at(self, index: int) -> Any:
        key: dict[str, Any] = {}
        for name, axis, stride in zip(self.names, self.axes, self.strides, strict=True):
            digit, index = divmod(index, stride)
            key[name] = axis.space.key_at(axis.lo + digit)
        return key

    def index_of(self, key: Any) -> int | None:
        if not isinstance(key, dict):
            return None
        index = 0
        for name, axis, stride in zip(self.names, self.axes, self.strides, strict=True):
            position = axis.space.index_of(key.get(name))
            if position is None or not axis.lo <= position < axis.hi:
                return None
            index += (position - axis.lo) * stride
        return index

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ProductSpace)
            and other.names == self.names
            and other.axes == self.axes
        )

    def __hash__(self) -> int:
        return hash((self.names, self.axes))

    def __reduce__(self) -> tuple[Any, ...]:
        return (ProductSpace, (self.names, self.axes))
