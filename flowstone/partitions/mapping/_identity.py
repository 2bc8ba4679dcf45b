"""The identity mapping: a downstream partition needs the upstream partition of the same key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._definition import PartitionsDefinition
from .._static import StaticPartitions
from .._time_window import TimeWindowPartitions
from ._mapping import Keys, PartitionMapping, checked_key, describe, single


@dataclass(frozen=True)
class IdentityMapping(PartitionMapping):
    """Partition ``k`` downstream needs partition ``k`` upstream.

    The default between two assets with equal definitions. It also connects static
    partitions whose downstream keys are all upstream keys.
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
        self._require(downstream, upstream)
        return single(upstream, checked_key(downstream, downstream_key, "downstream"))

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
        return single(downstream, checked_key(upstream, upstream_key, "upstream"))

    def problems(
        self, downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
    ) -> list[str]:
        if downstream == upstream:
            return []
        if isinstance(downstream, StaticPartitions) and isinstance(upstream, StaticPartitions):
            extra = [key for key in downstream.keys if key not in upstream.keys]
            if not extra:
                return []
            return [
                f"IdentityMapping: downstream keys {extra[:5]!r} are not keys of the upstream"
                f" {describe(upstream)}; expected every downstream key upstream too"
            ]
        hint = ""
        if isinstance(downstream, TimeWindowPartitions) and isinstance(
            upstream, TimeWindowPartitions
        ):
            hint = "; use TimeWindowMapping() to map time windows by overlap"
        return [
            f"IdentityMapping needs equal partitions on both sides; the downstream has"
            f" {describe(downstream)} and the upstream has {describe(upstream)}{hint}"
        ]
