"""The PostgreSQL batch write: the whole batch as one ``jsonb`` document, written by one call
of the ``write_batch`` function (``_write_schema``), so a write is one round trip.

Internal, not part of the public API. One document rather than an array per column: with
asyncpg, encoding one text parameter costs the client about half the CPU of forty arrays
(docs/adr/0024-postgres-write-in-one-round-trip.md). The document carries, besides the
records, what only Python knows: the pipeline, the tenant to act for, the change-log lock and
channel, and the ordinal of every key of an asset whose status ranges the store keeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from flowstone.errors import StorageError
from flowstone.storage._codec import decode_pkey, encode_pkey
from flowstone.storage._normalise import jsonable
from flowstone.storage._postgres_queries import Statements
from flowstone.storage._ranges import PartitionOrdinals
from flowstone.storage._records import ErrorInfo, MaterializationRecord, RunRecord
from flowstone.storage._write_schema import NEEDS_ORDINALS

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False)

Key = tuple[str, str]


async def write(
    conn: asyncpg.Connection,
    st: Statements,
    runs: Sequence[RunRecord],
    mats: Sequence[MaterializationRecord],
    orders: Mapping[str, PartitionOrdinals],
    tenant: str | None,
) -> None:
    """Write a batch with one statement, an implicit transaction: durable when it returns.

    The one exception is a batch that moved records (same id, another key) from keys of an
    ordered asset: the database names those keys and writes nothing, and the batch is
    written again with their ordinals (each call its own transaction).
    """
    moved: dict[Key, None] = {}
    while True:
        text = document(st, runs, mats, orders, tenant, moved)
        try:
            await conn.execute(st.write_batch, text)
            return
        except asyncpg.PostgresError as exc:
            if exc.sqlstate != NEEDS_ORDINALS:
                raise
            named = [(str(a), str(k)) for a, k in json.loads(exc.detail or "[]")]
            fresh = [key for key in named if key not in moved]
            if not fresh:
                raise StorageError(
                    f"PostgreSQL asked again for the partition ordinals of {named}, which the "
                    f"batch carries; the write_batch function of schema {st.schema} does not "
                    f"match this FlowStone (reopen the store to migrate it)"
                ) from exc
            moved.update(dict.fromkeys(fresh))


def batch_tenant(
    runs: Sequence[RunRecord], mats: Sequence[MaterializationRecord], acting: str | None
) -> str | None:
    """Return the tenant to set for writing a batch: the acting tenant when every record
    belongs to it, else None (nothing set).

    A batch of many tenants' records (the lineage writer's group commit) can be written only
    by a role the policies do not confine, the tables' owner; setting one tenant would not
    help it, and setting another tenant than the caller's scope would step out of the scope.
    """
    if acting is None:
        return None
    tenants = {r.tenant for r in runs} | {m.tenant for m in mats}
    return acting if tenants == {acting} else None


def document(
    st: Statements,
    runs: Sequence[RunRecord],
    mats: Sequence[MaterializationRecord],
    orders: Mapping[str, PartitionOrdinals],
    tenant: str | None,
    moved: Mapping[Key, None] | None = None,
) -> str:
    """Return the JSON text ``write_batch`` takes (its rows are lists, in column order)."""
    ordered: dict[str, PartitionOrdinals] = {}
    ordinals: list[tuple[str, str, int | None]] = []
    if orders:
        for m in mats:
            order = orders.get(m.asset)
            if order is not None:
                ordered[m.asset] = order
                ordinals.append((m.asset, encode_pkey(m.partition), order.ordinal(m.partition)))
        for asset, pkey in moved or ():
            order = orders.get(asset)
            if order is not None:
                ordered[asset] = order
            ordinal = None if order is None else order.ordinal(decode_pkey(pkey))
            ordinals.append((asset, pkey, ordinal))
    return _ENCODER.encode(
        {
            "pipeline": st.pipeline,
            "tenant": tenant,
            "lock": st.changes_lock,
            "channel": st.channel,
            "ordered": bool(orders),
            "runs": [_run_row(r) for r in runs],
            "mats": [_materialization_row(m) for m in mats],
            "orders": [(a, o.fingerprint, st.range_lock(a)) for a, o in ordered.items()],
            "ordinals": ordinals,
        }
    )


def _run_row(run: RunRecord) -> list[Any]:
    return [
        run.run_id,
        run.pipeline,
        run.kind,
        list(run.targets),
        run.status,
        run.started_at.isoformat(),
        None if run.finished_at is None else run.finished_at.isoformat(),
        run.triggered_by,
        run.trigger,
        run.backfill_id,
        run.partition,
        jsonable(dict(run.metadata)),
        _error(run.error),
        run.tenant,
    ]


def _materialization_row(record: MaterializationRecord) -> list[Any]:
    return [
        record.id,
        record.run_id,
        record.asset,
        record.partition,
        record.attempt,
        record.status,
        record.started_at.isoformat(),
        None if record.finished_at is None else record.finished_at.isoformat(),
        record.triggered_by,
        record.trigger,
        record.user,
        record.host,
        record.code_version,
        [[i.asset, i.partition, i.materialization_id] for i in record.inputs],
        jsonable(dict(record.metadata)),
        _error(record.error),
        record.tenant,
    ]


def _error(error: ErrorInfo | None) -> Any:
    if error is None:
        return None
    return jsonable({"type": error.type, "message": error.message, "traceback": error.traceback})
