"""Static partitions: a fixed list of string keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from difflib import get_close_matches
from typing import Any, ClassVar

from ._definition import PartitionsDefinition, definition_error
from ._encoding import has_control_characters, type_name
from ._set import PartitionSet
from ._space import DefinitionSpace, Space

_SHOWN = 8  # keys listed in messages before eliding the rest


class StaticPartitions(PartitionsDefinition):
    """A fixed, ordered list of string keys, e.g. ``StaticPartitions(["eu", "us"])``.

    Keys are non-empty, unique and free of control characters; any other character is
    allowed (multi-partition encodings escape their separators). Key order is the order given.
    """

    kind: ClassVar[str] = "static"

    def __init__(self, keys: Sequence[str]) -> None:
        if isinstance(keys, str) or not isinstance(keys, Sequence):
            raise definition_error(
                "StaticPartitions",
                "keys",
                keys,
                f"is {type_name(keys)}",
                "a list of strings, e.g. ['eu', 'us']",
            )
        if not keys:
            raise definition_error(
                "StaticPartitions", "keys", keys, "is empty", "at least one key, e.g. ['eu', 'us']"
            )
        seen: set[str] = set()
        for key in keys:
            _check_key(key, seen)
            seen.add(key)
        self.keys: tuple[str, ...] = tuple(keys)
        self._positions = {key: i for i, key in enumerate(self.keys)}

    def validate(self, key: Any) -> Any:
        if key is None:
            raise self._invalid(None, "is not a key (a partitioned asset needs one)")
        if not isinstance(key, str):
            raise self._invalid(key, f"is {type_name(key)}, not a string")
        if key not in self._positions:
            close = get_close_matches(key, self.keys, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self._invalid(key, f"is unknown{hint}")
        return key

    def encode(self, key: Any) -> str:
        return str(self.validate(key))

    def all(
        self, *, now: datetime | None = None, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        return PartitionSet(self, DefinitionSpace(self), ((0, len(self.keys)),))

    def range(
        self, first: Any, last: Any, *, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        lo = self._positions[self.validate(first)]
        hi = self._positions[self.validate(last)]
        self._check_range_order(first, last, lo, hi)
        return PartitionSet(self, DefinitionSpace(self), ((lo, hi + 1),))

    def example(self) -> str:
        return self.keys[0]

    def describe(self) -> str:
        return f"static partitions {_listing(self.keys, brackets=True)}"

    def __repr__(self) -> str:
        return f"StaticPartitions({list(self.keys)!r})"

    def _identity(self) -> tuple[Any, ...]:
        return ("StaticPartitions", self.keys)

    def _expectation(self) -> str:
        return f"one of {_listing(self.keys, brackets=False)}"

    def _space_for(self, keys: Sequence[Any]) -> Space:
        return DefinitionSpace(self)

    def _key_at(self, index: int) -> Any:
        if index < 0:
            raise IndexError(index)
        return self.keys[index]

    def _index_of(self, key: Any) -> int | None:
        return self._positions.get(key) if isinstance(key, str) else None

    def __getstate__(self) -> dict[str, Any]:
        return {"keys": self.keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.keys = state["keys"]
        self._positions = {key: i for i, key in enumerate(self.keys)}


def _check_key(key: Any, seen: set[str]) -> None:
    if not isinstance(key, str):
        raise definition_error(
            "StaticPartitions", "key", key, f"is {type_name(key)}", "string keys"
        )
    if not key:
        raise definition_error("StaticPartitions", "key", key, "is empty", "non-empty keys")
    if has_control_characters(key):
        raise definition_error(
            "StaticPartitions",
            "key",
            key,
            "contains control characters",
            "printable keys (no newlines, tabs or other control characters)",
        )
    if key in seen:
        raise definition_error("StaticPartitions", "key", key, "appears twice", "each key once")


def _listing(keys: Sequence[str], *, brackets: bool) -> str:
    shown = ", ".join(repr(k) for k in keys[:_SHOWN])
    if len(keys) > _SHOWN:
        shown += f", … ({len(keys)} keys)"
    return f"[{shown}]" if brackets else shown
