"""The abstract partition mapping: which upstream partitions a downstream partition needs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...errors import DefinitionError, InvalidPartition
from .._definition import PartitionsDefinition
from .._encoding import show
from .._set import PartitionSet

Keys = PartitionSet | list[Any]


class PartitionMapping(ABC):
    """Relates the partitions of a downstream asset to those of one upstream asset.

    ``None`` stands for an unpartitioned side, both as a definition and as its only key:
    ``upstream_keys`` returns ``[None]`` when the upstream is unpartitioned, and a
    ``PartitionSet`` of the upstream definition otherwise. Mappings are immutable values
    (equal when built alike, hashable, pickleable).
    """

    @abstractmethod
    def upstream_keys(
        self,
        downstream_key: Any,
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        """The upstream partitions ``downstream_key`` needs; keys outside the upstream
        definition's range are dropped (the day before the first day has no partition).

        ``now`` and ``dynamic_keys`` are used only where "every upstream key" is needed.

        Raises:
            InvalidPartition: ``downstream_key`` is not a key of ``downstream``.
            DefinitionError: the mapping cannot connect the two definitions (see ``problems``).
        """

    @abstractmethod
    def downstream_keys(
        self,
        upstream_key: Any,
        upstream: PartitionsDefinition | None,
        downstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        """The downstream partitions that read ``upstream_key`` (for impact analysis).

        ``now``, when given, also drops downstream time windows not complete at ``now``."""

    @abstractmethod
    def problems(
        self, downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
    ) -> list[str]:
        """Why this mapping cannot connect these two definitions (``[]`` when it can)."""

    def _require(
        self, downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
    ) -> None:
        found = self.problems(downstream, upstream)
        if found:
            raise DefinitionError("; ".join(found))


def describe(definition: PartitionsDefinition | None) -> str:
    """Name a side of a mapping in messages."""
    return "no partitions" if definition is None else definition.describe()


def checked_key(definition: PartitionsDefinition | None, key: Any, side: str) -> Any:
    """Validate the key of one side; an unpartitioned side's only key is None."""
    if definition is not None:
        return definition.validate(key)
    if key is not None:
        raise InvalidPartition(
            f"partition {show(key)} was given for the unpartitioned {side} asset;"
            " expected None, as an unpartitioned asset has a single partition"
        )
    return None


def single(definition: PartitionsDefinition | None, key: Any) -> Keys:
    """The one key as a set of ``definition`` (empty when outside it), or ``[None]``."""
    if definition is None:
        return [None]
    if definition.contains(key):
        return PartitionSet.from_keys(definition, [key])
    return PartitionSet.empty(definition)
