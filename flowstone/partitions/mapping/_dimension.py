"""The dimension mapping: between multi partitions and one of their dimensions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._definition import PartitionsDefinition
from .._multi import MultiPartitions
from .._set import PartitionSet
from ._mapping import Keys, PartitionMapping, describe


@dataclass(frozen=True)
class DimensionMapping(PartitionMapping):
    """Relate multi partitions to partitions like one of their dimensions.

    With a multi-partitioned upstream (tenant × date) and a downstream partitioned by date,
    ``DimensionMapping("date")`` makes the downstream day need every tenant's partition of
    that day. In the other direction (multi downstream, single upstream), partition
    ``{tenant, date}`` needs the upstream partition of its ``date``.
    """

    dimension: str

    def upstream_keys(
        self,
        downstream_key: Any,
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        self._require(downstream, upstream)
        return self._across(downstream_key, downstream, upstream, now, dynamic_keys)

    def downstream_keys(
        self,
        upstream_key: Any,
        upstream: PartitionsDefinition | None,
        downstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        self._require(downstream, upstream)
        return self._across(upstream_key, upstream, downstream, now, dynamic_keys)

    def problems(
        self, downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
    ) -> list[str]:
        multis = [d for d in (downstream, upstream) if isinstance(d, MultiPartitions)]
        if len(multis) != 1:
            return [
                f"DimensionMapping({self.dimension!r}) needs multi partitions on exactly one"
                f" side; the downstream has {describe(downstream)} and the upstream has"
                f" {describe(upstream)}"
            ]
        multi = multis[0]
        other = upstream if multi is downstream else downstream
        if self.dimension not in multi.dimensions:
            names = ", ".join(repr(n) for n in multi.dimensions)
            return [
                f"DimensionMapping({self.dimension!r}): the multi partitions have no dimension"
                f" {self.dimension!r}; expected one of {names}"
            ]
        expected = multi.dimensions[self.dimension]
        if other != expected:
            return [
                f"DimensionMapping({self.dimension!r}): the other side has {describe(other)},"
                f" but dimension {self.dimension!r} has {expected.describe()}; expected them equal"
            ]
        return []

    def _across(
        self,
        key: Any,
        source: PartitionsDefinition | None,
        target: PartitionsDefinition | None,
        now: datetime | None,
        dynamic_keys: Sequence[str] | None,
    ) -> PartitionSet:
        assert source is not None
        assert target is not None
        if isinstance(source, MultiPartitions):
            value = source.validate(key)[self.dimension]
            return PartitionSet.from_keys(target, [value])
        assert isinstance(target, MultiPartitions)
        return target.with_dimension(
            self.dimension, source.validate(key), now=now, dynamic_keys=dynamic_keys
        )
