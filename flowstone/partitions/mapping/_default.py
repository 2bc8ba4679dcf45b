"""The mapping used when a dependency does not name one."""

from __future__ import annotations

from .._definition import PartitionsDefinition
from .._time_window import TimeWindowPartitions
from ._all import AllPartitionsMapping
from ._identity import IdentityMapping
from ._mapping import PartitionMapping
from ._time_window import TimeWindowMapping


def default_mapping(
    downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
) -> PartitionMapping | None:
    """The mapping a dependency gets when none is given, or None when it needs one.

    - equal definitions (or both unpartitioned): ``IdentityMapping()``;
    - an unpartitioned upstream: ``AllPartitionsMapping()``, which needs ``[None]``;
    - an unpartitioned downstream over a partitioned upstream: None, so that nobody reads
      every upstream partition by accident (say ``AllPartitionsMapping()``);
    - two time-window definitions in the same timezone: ``TimeWindowMapping()``;
    - anything else: None (incompatible without an explicit mapping).
    """
    if downstream == upstream:
        return IdentityMapping()
    if upstream is None:
        return AllPartitionsMapping()
    if downstream is None:
        return None
    if (
        isinstance(downstream, TimeWindowPartitions)
        and isinstance(upstream, TimeWindowPartitions)
        and downstream.timezone == upstream.timezone
    ):
        return TimeWindowMapping()
    return None
