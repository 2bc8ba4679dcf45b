"""``rt.lineage.at(asset, partition, timestamp)``: the design's "time machine"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flowstone.engine._results import Materialization
from flowstone.storage import MaterializationRecord, Storage
from flowstone.storage._codec import require_aware


async def lineage_at(
    storage: Storage,
    asset: str,
    key: str | None,
    timestamp: datetime,
    convert: Callable[[MaterializationRecord], Materialization],
) -> Materialization | None:
    """Return the materialization of (asset, key) that was current at ``timestamp``: the
    newest succeeded one finished at or before it, with the inputs it consumed (its
    lineage); None when there was none yet.

    Raises:
        StorageError: ``timestamp`` is naive (its instant is unknowable).
    """
    found = await storage.latest(asset, [key], as_of=require_aware(timestamp, "timestamp"))
    record = found.get(key)
    return None if record is None else convert(record)
