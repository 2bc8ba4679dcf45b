"""``PartitionKey``: one partition of one asset, as the decoded key and its string form.

Every layer passes this one value: nodes of a plan, I/O contexts, results. The decoded
``value`` is what users see (a ``date``, a ``datetime``, a ``str``, a ``dict`` for multi
keys); ``encoded`` is the canonical string stored in records and used in paths and names.
Equality and hashing use ``encoded`` only, so keys whose value is a dict are still hashable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, final

if TYPE_CHECKING:
    from flowstone.partitions._definition import PartitionsDefinition


@final
class PartitionKey:
    """A partition key: ``value`` (decoded) and ``encoded`` (its canonical string).

    Build it with ``from_value`` (validates) or ``from_encoded`` (decodes); the key of an
    unpartitioned asset is ``PartitionKey.NONE`` (both parts ``None``).
    """

    __slots__ = ("encoded", "value")

    NONE: ClassVar[PartitionKey]

    def __init__(self, value: Any, encoded: str | None) -> None:
        self.value = value
        self.encoded = encoded

    @classmethod
    def from_value(cls, definition: PartitionsDefinition, value: Any) -> PartitionKey:
        """Validate ``value`` (a key or its string form) against ``definition``.

        Raises:
            InvalidPartition: the key does not belong to ``definition``.
        """
        key = definition.validate(value)
        return cls(key, definition.encode(key))

    @classmethod
    def from_encoded(
        cls, definition: PartitionsDefinition | None, encoded: str | None
    ) -> PartitionKey:
        """Decode a stored string; a string the definition cannot decode keeps its text."""
        if encoded is None:
            return cls.NONE
        if definition is None:
            return cls(encoded, encoded)
        try:
            return cls(definition.decode(encoded), encoded)
        except Exception:  # a record of a definition that changed since: keep its text
            return cls(encoded, encoded)

    def to_value(self) -> Any:
        """The decoded key (``None`` when unpartitioned)."""
        return self.value

    def to_string(self) -> str | None:
        """The canonical string form (``None`` when unpartitioned)."""
        return self.encoded

    @property
    def is_partitioned(self) -> bool:
        """False for the key of an unpartitioned asset."""
        return self.encoded is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionKey):
            return NotImplemented
        return self.encoded == other.encoded

    def __hash__(self) -> int:
        return hash(self.encoded)

    def __repr__(self) -> str:
        return "PartitionKey.NONE" if self.encoded is None else f"PartitionKey({self.encoded!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (PartitionKey, (self.value, self.encoded))


PartitionKey.NONE = PartitionKey(None, None)
