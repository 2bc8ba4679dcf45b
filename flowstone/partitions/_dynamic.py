"""Dynamic partitions: string keys added while the pipeline runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from ._definition import PartitionsDefinition, definition_error
from ._encoding import has_control_characters, type_name
from ._set import PartitionSet
from ._space import ListSpace, Space


class DynamicPartitions(PartitionsDefinition):
    """A named set of string keys that grows at run time (new customers, uploaded files).

    The keys live in the record store under ``name``; the definition only knows their
    shape: ``validate`` accepts any non-empty string without control characters, and the
    engine checks membership against storage. Sets are built from the stored keys,
    ``all(dynamic_keys=stored)``, and keep their order.
    """

    kind: ClassVar[str] = "dynamic"

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name or has_control_characters(name):
            raise definition_error(
                "DynamicPartitions",
                "name",
                name,
                "is not a usable name",
                "a non-empty string without control characters, e.g. 'customers'",
            )
        self.name = name

    def validate(self, key: Any) -> Any:
        if key is None:
            raise self._invalid(None, "is not a key (a partitioned asset needs one)")
        if not isinstance(key, str):
            raise self._invalid(key, f"is {type_name(key)}, not a string")
        if not key:
            raise self._invalid(key, "is empty")
        if has_control_characters(key):
            if any("\ud800" <= ch <= "\udfff" for ch in key):
                raise self._invalid(
                    key, "contains a lone surrogate, which is not text any store holds"
                )
            raise self._invalid(key, "contains control characters")
        return key

    def check_new_keys(self, keys: Sequence[Any]) -> list[str]:
        """Validate keys about to be added to the set, before any store sees them.

        Raises:
            InvalidPartition: naming the first key that is not a usable key.
        """
        if isinstance(keys, str):
            raise self._invalid(keys, "was given alone", fix="pass a list of keys, e.g. ['a']")
        return [self.validate(key) for key in keys]

    def encode(self, key: Any) -> str:
        return str(self.validate(key))

    def all(
        self, *, now: datetime | None = None, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        keys = self._stored(dynamic_keys, "all")
        return PartitionSet(self, ListSpace(keys), ((0, len(keys)),))

    def range(
        self, first: Any, last: Any, *, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        first, last = self.validate(first), self.validate(last)
        if first == last:  # one key needs no order
            return PartitionSet(self, ListSpace([first]), ((0, 1),))
        space = ListSpace(self._stored(dynamic_keys, "range"))
        lo, hi = space.index_of(first), space.index_of(last)
        for key, index in ((first, lo), (last, hi)):
            if index is None:
                raise self._invalid(key, "is not among the stored keys given")
        assert lo is not None
        assert hi is not None
        self._check_range_order(first, last, lo, hi)
        return PartitionSet(self, space, ((lo, hi + 1),))

    def example(self) -> str:
        return "customer-42"

    def describe(self) -> str:
        return f"dynamic partitions {self.name!r}"

    def __repr__(self) -> str:
        return f"DynamicPartitions({self.name!r})"

    def _label(self) -> str:
        return self.describe()

    def _identity(self) -> tuple[Any, ...]:
        return ("DynamicPartitions", self.name)

    def _expectation(self) -> str:
        return "a non-empty string without control characters"

    def _space_for(self, keys: Sequence[Any]) -> Space:
        return ListSpace(list(dict.fromkeys(keys)))

    def _stored(self, dynamic_keys: Sequence[str] | None, method: str) -> list[str]:
        if dynamic_keys is None:
            raise TypeError(
                f"{method}() of {self.describe()} needs the stored keys: pass dynamic_keys=[...]"
                f" as read from the record store (dynamic_partitions({self.name!r}))"
            )
        return list(dict.fromkeys(self.validate(key) for key in dynamic_keys))
