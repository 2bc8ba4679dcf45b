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
    Storage,
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
    pipeline: str = "analytics",
) -> RunRecord:
    """Build a run started ``started`` seconds after T0."""
    return RunRecord(
        run_id=run_id,
        pipeline=pipeline,
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


async def write_two_pipelines_unscoped(storage: Storage) -> None:
    """Write, as a store of schema version 2 would hold them, the records of two pipelines'
    runs on the same asset partitions, and one of a run that was never recorded."""
    async with storage:
        await storage.write(
            batch(
                run("ra", pipeline="alpha"),
                run("rb", pipeline="beta", started=1),
                mat("raw", "x", run="ra", finished=1),
                mat("clean", "x", run="ra", finished=2, inputs=[("raw", "x")]),
                mat("raw", "x", run="rb", status="failed", finished=3),
                mat("raw", "y", run="lost", finished=4),
            )
        )


async def check_two_pipelines_after_migrating(storage: Storage) -> None:
    """The records of ``write_two_pipelines_unscoped`` are each their run's pipeline's."""
    async with storage.for_pipeline("alpha") as alpha:
        assert ids(await alpha.materializations()) == ["ra/clean/x/1", "ra/raw/x/1"]
        assert await alpha.latest_statuses("raw") == {"x": "succeeded"}
        assert [e.asset for e in await alpha.upstream("clean", "x")] == ["raw"]
    async with storage.for_pipeline("beta") as beta:
        assert ids(await beta.materializations()) == ["rb/raw/x/1"]
        assert await beta.latest_statuses("raw") == {"x": "failed"}
        assert await beta.latest("raw", ["x"]) == {}
    async with storage:
        assert ids(await storage.materializations()) == ["lost/raw/y/1"]
        assert await storage.latest_statuses("raw") == {"y": "succeeded"}
