"""Short constructors for the records the storage tests write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from flowstone.storage import (
    ErrorInfo,
    InputRef,
    MaterializationRecord,
    RunRecord,
    WriteBatch,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """Return the instant ``seconds`` after T0."""
    return T0 + timedelta(seconds=seconds)


Upstream = tuple[str, str | None] | tuple[str, str | None, str | None]


def mat(
    asset: str,
    partition: str | None = None,
    *,
    run: str = "r1",
    attempt: int = 1,
    status: str = "succeeded",
    finished: float | None = 1.0,
    started: float | None = None,
    inputs: Iterable[Upstream] = (),
    metadata: Mapping[str, Any] | None = None,
    error: ErrorInfo | None = None,
    tenant: str | None = None,
) -> MaterializationRecord:
    """Build a materialization finished ``finished`` seconds after T0 (started one second
    earlier unless ``started`` is given); ``inputs`` are (asset, partition[, id]) tuples."""
    start = started if started is not None else (finished or 1.0) - 1.0
    return MaterializationRecord(
        id=MaterializationRecord.make_id(run, asset, partition, attempt),
        run_id=run,
        asset=asset,
        partition=partition,
        attempt=attempt,
        status=status,
        started_at=at(start),
        finished_at=None if finished is None else at(finished),
        triggered_by="alice@host",
        inputs=tuple(InputRef(*ref) for ref in inputs),
        metadata=dict(metadata or {}),
        error=error,
        tenant=tenant,
    )


def run(
    run_id: str,
    *,
    status: str = "succeeded",
    started: float = 0.0,
    backfill_id: str | None = None,
    kind: str = "materialize",
    tenant: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    error: ErrorInfo | None = None,
) -> RunRecord:
    """Build a run started ``started`` seconds after T0."""
    return RunRecord(
        run_id=run_id,
        pipeline="analytics",
        kind=kind,
        targets=("report",),
        status=status,
        started_at=at(started),
        finished_at=None if status in ("pending", "running") else at(started + 1),
        triggered_by="alice@host",
        trigger="backfill" if backfill_id else "manual",
        backfill_id=backfill_id,
        metadata=dict(metadata or {}),
        error=error,
        tenant=tenant,
    )


def batch(*records: MaterializationRecord | RunRecord) -> WriteBatch:
    """Split records into a write batch, keeping their order."""
    return WriteBatch(
        runs=tuple(r for r in records if isinstance(r, RunRecord)),
        materializations=tuple(r for r in records if isinstance(r, MaterializationRecord)),
    )


def ids(records: Iterable[MaterializationRecord]) -> list[str]:
    """Return the ids of records, in order."""
    return [r.id for r in records]


def tenant_batch() -> WriteBatch:
    """Records of two tenants and a shared one, for the backends' tenant-column tests."""
    return batch(
        mat("rates"),
        mat("orders", "tenant=acme", inputs=[("rates", None)], tenant="acme"),
        mat("report", tenant="acme"),
        mat("report", run="r2", finished=5, tenant="beta"),
    )


TENANT_INPUT_ROWS = [("r1/orders/tenant=acme/1", "acme")]
"""(materialization id, tenant) of ``tenant_batch``'s input rows."""

TENANT_PARTITION_ROWS = [("orders", "acme"), ("rates", None), ("report", "beta")]
"""(asset, tenant) of ``tenant_batch``'s partition rows: a partition belongs to the tenant
of its newest record."""
