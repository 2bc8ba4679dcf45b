"""Partitions: how assets split into keys, sets of keys, and mappings between assets.

Layout (each module one concept):

- ``_definition``: ``PartitionsDefinition``, the ABC every kind implements;
- ``_time_window``: the base of time windows; ``_calendar`` (daily, weekly, monthly),
  ``_hourly``, ``_cron`` (with ``_crontab`` and ``_fire_times``);
- ``_static``, ``_dynamic``, ``_multi``: the other kinds;
- ``_set`` (``PartitionSet``), ``_space`` and ``_runs``: sets as index ranges;
- ``_key``: ``PartitionKey``, a key decoded and encoded in one value;
- ``_encoding`` and ``_zone``: key strings, time zones and instants;
- ``mapping/``: partition mappings between upstream and downstream assets.
"""

from __future__ import annotations

from ._calendar import DailyPartitions as DailyPartitions
from ._calendar import MonthlyPartitions as MonthlyPartitions
from ._calendar import WeeklyPartitions as WeeklyPartitions
from ._cron import CronPartitions as CronPartitions
from ._definition import PartitionsDefinition as PartitionsDefinition
from ._dynamic import DynamicPartitions as DynamicPartitions
from ._hourly import HourlyPartitions as HourlyPartitions
from ._key import PartitionKey as PartitionKey
from ._multi import MultiPartitions as MultiPartitions
from ._set import PartitionSet as PartitionSet
from ._set import StatusRun as StatusRun
from ._static import StaticPartitions as StaticPartitions
from ._time_window import TimeWindowPartitions as TimeWindowPartitions
from .mapping import AllPartitionsMapping as AllPartitionsMapping
from .mapping import DimensionMapping as DimensionMapping
from .mapping import IdentityMapping as IdentityMapping
from .mapping import PartitionMapping as PartitionMapping
from .mapping import TimeWindowMapping as TimeWindowMapping
from .mapping import default_mapping as default_mapping

__all__ = (
    "AllPartitionsMapping",
    "CronPartitions",
    "DailyPartitions",
    "DimensionMapping",
    "DynamicPartitions",
    "HourlyPartitions",
    "IdentityMapping",
    "MonthlyPartitions",
    "MultiPartitions",
    "PartitionKey",
    "PartitionMapping",
    "PartitionSet",
    "PartitionsDefinition",
    "StaticPartitions",
    "StatusRun",
    "TimeWindowMapping",
    "TimeWindowPartitions",
    "WeeklyPartitions",
    "default_mapping",
)

# Reprs and tracebacks read flowstone.partitions.DailyPartitions, not ..._calendar.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(__name__ + "."):
        _obj.__module__ = __name__
del _name, _obj
