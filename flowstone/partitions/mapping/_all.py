"""The all-partitions mapping: every downstream partition needs every upstream partition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._definition import PartitionsDefinition
from ._mapping import Keys, PartitionMapping, checked_key


@dataclass(frozen=True)
class AllPartitionsMapping(PartitionMapping):
    """Each downstream partition (or the single partition of an unpartitioned downstream)
    depends on all upstream partitions; over an unpartitioned upstream it needs ``[None]``.

    Never inferred over a partitioned upstream: an unpartitioned asset reading 87,600 hourly
    partitions should say so explicitly. Pass ``now`` (time windows without an end) and
    ``dynamic_keys`` (dynamic partitions) to bound "all".
    """

    def upstream_keys(
        self,
        downstream_key: Any,
        downstream: PartitionsDefinition | None,
        upstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        checked_key(downstream, downstream_key, "downstream")
        if upstream is None:
            return [None]
        return upstream.all(now=now, dynamic_keys=dynamic_keys)

    def downstream_keys(
        self,
        upstream_key: Any,
        upstream: PartitionsDefinition | None,
        downstream: PartitionsDefinition | None,
        *,
        now: datetime | None = None,
        dynamic_keys: Sequence[str] | None = None,
    ) -> Keys:
        checked_key(upstream, upstream_key, "upstream")
        if downstream is None:
            return [None]
        return downstream.all(now=now, dynamic_keys=dynamic_keys)

    def problems(
        self, downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
    ) -> list[str]:
        return []
