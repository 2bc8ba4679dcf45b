"""Registering every asset's partition order with the record store (the runtime's hook)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flowstone.partitions._order import PartitionOrder
from flowstone.storage import Storage


def register_orders(
    storage: Storage, pipeline: Any, dynamic_keys: Callable[[str], Sequence[str]]
) -> dict[str, PartitionOrder]:
    """Return a ``PartitionOrder`` for every asset of ``pipeline``, and register those of
    partitioned assets with ``storage``, so the store keeps their status ranges as records
    are written. An unpartitioned asset's status is its one pointer row: no ranges to keep.

    ``dynamic_keys(name)`` returns the current stored keys of a dynamic partitions set.
    """
    orders: dict[str, PartitionOrder] = {}
    for name, asset in pipeline.assets.items():
        order = PartitionOrder(getattr(asset, "partitions", None), dynamic_keys)
        if order.definition is not None:
            storage.order_partitions(name, order)
        orders[name] = order
    return orders


async def prepare_ranges(storage: Storage, orders: dict[str, PartitionOrder]) -> list[str]:
    """Start (or restart, when stale) the status ranges of every partitioned asset in
    ``orders`` whose stored ranges do not follow its order; return those assets.

    One query when every asset is current. A new store starts ranges for every asset here
    at no cost (nothing recorded yet), so from then on writes keep them; an existing store
    pays one pass over the recorded partitions of each asset whose order changed.
    """
    stored = await storage.partition_orderings()
    stale = [
        name
        for name, order in orders.items()
        if order.definition is not None and stored.get(name) != order.fingerprint
    ]
    for name in stale:
        await storage.rebuild_partition_ranges(name)
    return stale
