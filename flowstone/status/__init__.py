"""Partition status as ranges: the summary behind ``rt.partition_status``, ``flowstone
status`` and the dashboard's health bars.

Module map:
    _partition_status.py   PartitionStatus, PartitionRange, partition_status()
    _orders.py             register_orders(): the runtime's hook registering every asset's
                           partition order with the record store
    _tree.py               describe_tree(): a supervision tree as plain data
    _reporter.py           TreeReporter: a runtime publishes its tree to the store
"""

from flowstone.status._orders import prepare_ranges as prepare_ranges
from flowstone.status._orders import register_orders as register_orders
from flowstone.status._partition_status import STATUSES as STATUSES
from flowstone.status._partition_status import PartitionRange as PartitionRange
from flowstone.status._partition_status import PartitionStatus as PartitionStatus
from flowstone.status._partition_status import partition_status as partition_status
from flowstone.status._reporter import TreeReporter as TreeReporter
from flowstone.status._tree import describe_tree as describe_tree

__all__ = (
    "STATUSES",
    "PartitionRange",
    "PartitionStatus",
    "TreeReporter",
    "describe_tree",
    "partition_status",
    "prepare_ranges",
    "register_orders",
)

for _name in (
    "PartitionRange",
    "PartitionStatus",
    "TreeReporter",
    "describe_tree",
    "partition_status",
    "prepare_ranges",
    "register_orders",
):
    globals()[_name].__module__ = __name__
del _name
