"""The abstract partitions definition every kind of partitioning implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import DefinitionError, InvalidPartition
from ._encoding import show

if TYPE_CHECKING:
    from ._set import PartitionSet
    from ._space import Space


class PartitionsDefinition(ABC):
    """How an asset is split into partitions, and what its partition keys look like.

    A definition is an immutable value: two definitions built from the same arguments are
    equal and hash alike, and every definition pickles. Keys come in a canonical form
    (``validate`` returns it) and a canonical string (``encode``; ``decode`` reverses it).
    Sets of keys are ranges (``all``, ``range``), never lists built up front.
    """

    kind: ClassVar[str]

    @abstractmethod
    def validate(self, key: Any) -> Any:
        """Return the canonical form of ``key``, accepting its string forms too.

        Raises:
            InvalidPartition: the key is None, malformed or outside the definition; the
                message says what was expected, with an example of a valid key.
        """

    @abstractmethod
    def encode(self, key: Any) -> str:
        """Return the canonical string of a key; ``decode(encode(k)) == k``."""

    def decode(self, text: str) -> Any:
        """Return the key a string made by ``encode`` stands for (string forms that
        ``validate`` accepts decode too)."""
        if not isinstance(text, str):
            raise self._invalid(text, "is not a string", expected="an encoded key")
        return self.validate(text)

    def contains(self, key: Any) -> bool:
        """Return whether ``key`` (in any accepted form) is a key of this definition."""
        try:
            self.validate(key)
        except InvalidPartition:
            return False
        return True

    @abstractmethod
    def all(
        self, *, now: datetime | None = None, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        """Return every key: for time windows, those from the start to the end, or when no
        end is set, to the last window complete at ``now`` (an aware datetime; a naive one
        is read in the definition's timezone; default: the current time). Dynamic
        partitions need ``dynamic_keys``, the stored keys in order."""

    @abstractmethod
    def range(
        self, first: Any, last: Any, *, dynamic_keys: Sequence[str] | None = None
    ) -> PartitionSet:
        """Return the keys from ``first`` to ``last``, both included and both validated.

        ``dynamic_keys`` (the stored keys, in order) is needed only to order dynamic keys."""

    @abstractmethod
    def example(self) -> str:
        """Return an example key string, as shown in error messages."""

    @abstractmethod
    def describe(self) -> str:
        """Describe the definition in words, e.g. ``daily partitions from 2024-01-01 (UTC)``."""

    # -- internals shared by the kinds -------------------------------------------------

    @abstractmethod
    def _identity(self) -> tuple[Any, ...]:
        """The values that make two definitions equal."""

    @abstractmethod
    def _expectation(self) -> str:
        """What a valid key looks like, for error messages ("a date from 2024-01-01")."""

    @abstractmethod
    def _space_for(self, keys: Sequence[Any]) -> Space:
        """An index space holding the given canonical keys (for ``PartitionSet.from_keys``)."""

    def _label(self) -> str:
        """How error messages name the definition ("daily partitions")."""
        return f"{self.kind} partitions"

    def _invalid(
        self, found: Any, problem: str, *, expected: str | None = None, fix: str | None = None
    ) -> InvalidPartition:
        """Build the InvalidPartition for a key, in the one message shape all kinds share:
        what was found, what is wrong, then what was expected with an example (or a fix)."""
        advice = fix or (f"expected {expected or self._expectation()}, e.g. {self.example()!r}")
        return InvalidPartition(f"partition {show(found)} of {self._label()} {problem}; {advice}")

    def _check_range_order(self, first: Any, last: Any, first_index: int, last_index: int) -> None:
        if last_index < first_index:
            raise InvalidPartition(
                f"range of {self._label()} from {self.encode(first)!r} to {self.encode(last)!r}"
                " is empty: the last key comes before the first; swap them"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionsDefinition):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


def definition_error(
    owner: str, field: str, value: Any, problem: str, expected: str
) -> DefinitionError:
    """Build the DefinitionError for one invalid constructor argument: which class and field,
    the value found, what is wrong with it and what is expected instead."""
    return DefinitionError(f"{owner} {field} {show(value)} {problem}; expected {expected}")
