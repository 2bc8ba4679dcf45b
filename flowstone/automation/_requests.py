"""Turning "run this asset (for this partition)" into a queued run record.

Internal. The partition is checked and encoded here, at request time, so a bad key fails
the caller (``rt.submit``) or the tick that asked for it, never a daemon later.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowstone.automation._records import QueuedRun
from flowstone.errors import InvalidPartition
from flowstone.storage import RunRecord


def new_run_id() -> str:
    """A fresh run id (the engine's format)."""
    return uuid.uuid4().hex[:16]


def stable_run_id(*parts: str) -> str:
    """A run id derived from ``parts`` (a tick, a run key): replaying the same request
    names the same run, a second guard next to the tick's transaction."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def encode_partition(pipeline: Any, asset: str, partition: Any) -> str | None:
    """Validate ``partition`` for ``asset`` and return its stored form.

    Raises:
        AssetNotFound, InvalidPartition.
    """
    definition = pipeline.get(asset)
    partitions = definition.partitions
    if partitions is None:
        if partition is not None:
            raise InvalidPartition(
                f"asset {asset!r} is not partitioned, but partition {partition!r} was given"
            )
        return None
    if partition is None:
        raise InvalidPartition(
            f"asset {asset!r} is partitioned ({partitions.describe()}) and needs a partition "
            f"key, e.g. partition={partitions.example()!r}"
        )
    try:
        return str(partitions.encode(partitions.validate(partition)))
    except InvalidPartition as exc:
        raise InvalidPartition(f"asset {asset!r}: {exc}") from None


def pools_of(pipeline: Any, asset: str, upstream: bool) -> tuple[str, ...]:
    """The pools a run of ``asset`` occupies: its own, and its upstream closure's."""
    names = {asset}
    if upstream:
        frontier = [asset]
        while frontier:
            for dep in pipeline.get(frontier.pop()).dep_names():
                if dep not in names:
                    names.add(dep)
                    frontier.append(dep)
    return tuple(sorted({p for n in names if (p := pipeline.get(n).pool) is not None}))


def queued_run(
    pipeline: Any,
    asset: str,
    partition: Any,
    *,
    now: datetime,
    triggered_by: str,
    trigger: str = "manual",
    upstream: bool = True,
    run_id: str | None = None,
    backfill_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    priority: int = 0,
    tenant: str | None = None,
) -> QueuedRun:
    """Build the queued run of one request (its record has status ``queued``)."""
    encoded = encode_partition(pipeline, asset, partition)
    kind = (
        "backfill" if backfill_id is not None else "materialize_all" if upstream else "materialize"
    )
    record = RunRecord(
        run_id=run_id or new_run_id(),
        pipeline=pipeline.name,
        kind=kind,
        targets=(asset,),
        status="queued",
        started_at=now,
        finished_at=None,
        triggered_by=triggered_by,
        trigger=trigger,
        backfill_id=backfill_id,
        partition=encoded,
        metadata=dict(metadata or {}),
        tenant=tenant,
    )
    return QueuedRun(record, pools_of(pipeline, asset, upstream or kind == "backfill"), priority)
