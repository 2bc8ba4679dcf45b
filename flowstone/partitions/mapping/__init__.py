"""Partition mappings: which upstream partitions each downstream partition needs.

Layout: ``_mapping`` (the ABC and shared helpers), one module per mapping, ``_default``
(the mapping a dependency gets when it names none).
"""

from __future__ import annotations

from ._all import AllPartitionsMapping as AllPartitionsMapping
from ._default import default_mapping as default_mapping
from ._dimension import DimensionMapping as DimensionMapping
from ._identity import IdentityMapping as IdentityMapping
from ._mapping import PartitionMapping as PartitionMapping
from ._time_window import TimeWindowMapping as TimeWindowMapping

__all__ = (
    "AllPartitionsMapping",
    "DimensionMapping",
    "IdentityMapping",
    "PartitionMapping",
    "TimeWindowMapping",
    "default_mapping",
)
