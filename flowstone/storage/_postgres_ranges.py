"""Status ranges in PostgreSQL: read and rebuilt through the backend's pool (see ``_ranges``
for the scheme); maintained by the ``write_batch`` function inside every write
(``_write_schema``).

Internal, not part of the public API. Several processes may write one store, and a range
update reads the ranges around the changed ordinals before replacing them; two such
read-modify-writes of one asset must not interleave, so each takes a transaction-scoped
advisory lock per asset (``range_lock``; a write takes them in asset order, so two batches
never wait on each other in a cycle). Row locks on ``asset_partitions`` are taken earlier in
the same transaction, before any range lock, and are released together at commit.
"""

from __future__ import annotations

import hashlib

import asyncpg

from flowstone.storage._codec import decode_pkey
from flowstone.storage._ranges import (
    PartitionOrdinals,
    RangeSummary,
    StatusRange,
    clip,
    run_length,
)


def range_lock(schema: str, pipeline: str, asset: str) -> int:
    """Return the advisory lock key guarding the ranges of ``asset`` in ``schema``."""
    digest = hashlib.sha256(f"flowstone.ranges:{schema}:{pipeline}:{asset}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _ordering(conn: asyncpg.Connection, schema: str, pipeline: str, asset: str) -> str | None:
    found: str | None = await conn.fetchval(
        f"SELECT ordering FROM {schema}.partition_orders WHERE pipeline = $1 AND asset = $2",
        pipeline,
        asset,
    )
    return found


async def _windows(
    conn: asyncpg.Connection,
    schema: str,
    pipeline: str,
    asset: str,
    wanted: list[tuple[int, int]],
) -> list[StatusRange]:
    """The ranges meeting each span ``(a, b)``: one statement, two index probes per span."""
    rows = await conn.fetch(
        f"""SELECT DISTINCT r.first, r.last, r.status
        FROM unnest($3::bigint[], $4::bigint[]) AS s(a, b)
        CROSS JOIN LATERAL (
            (SELECT x.first, x.last, x.status FROM {schema}.partition_ranges x
             WHERE x.pipeline = $1 AND x.asset = $2 AND x.first <= s.a
             ORDER BY x.first DESC LIMIT 1)
            UNION ALL
            (SELECT x.first, x.last, x.status FROM {schema}.partition_ranges x
             WHERE x.pipeline = $1 AND x.asset = $2 AND x.first > s.a AND x.first <= s.b)
        ) r
        WHERE r.last >= s.a""",
        pipeline,
        asset,
        [a for a, _ in wanted],
        [b for _, b in wanted],
    )
    return [StatusRange(row[0], row[1], row[2]) for row in rows]


async def _insert(
    conn: asyncpg.Connection, schema: str, pipeline: str, asset: str, ranges: list[StatusRange]
) -> None:
    if not ranges:
        return
    await conn.execute(
        f"INSERT INTO {schema}.partition_ranges (pipeline, asset, first, last, status) "
        f"SELECT $1, $2, * FROM unnest($3::bigint[], $4::bigint[], $5::text[])",
        pipeline,
        asset,
        [r.first for r in ranges],
        [r.last for r in ranges],
        [r.status for r in ranges],
    )


async def drop(conn: asyncpg.Connection, schema: str, pipeline: str, asset: str) -> None:
    """Forget the ranges of ``asset`` and the ordering they followed."""
    for table in ("partition_ranges", "partition_orders"):
        await conn.execute(
            f"DELETE FROM {schema}.{table} WHERE pipeline = $1 AND asset = $2", pipeline, asset
        )


async def read(
    conn: asyncpg.Connection,
    schema: str,
    pipeline: str,
    asset: str,
    first: int | None,
    last: int | None,
) -> RangeSummary:
    """Return the ranges of ``asset`` within ``first..last``, from one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        stored = await _ordering(conn, schema, pipeline, asset)
        if stored is None:
            return RangeSummary(None)
        if first is None:
            rows = await conn.fetch(
                f"SELECT first, last, status FROM {schema}.partition_ranges "
                f"WHERE pipeline = $1 AND asset = $2 AND first <= $3 ORDER BY first",
                pipeline,
                asset,
                last if last is not None else 2**62,
            )
            found = [StatusRange(row[0], row[1], row[2]) for row in rows]
        else:
            hi = last if last is not None else 2**62
            windows = await _windows(conn, schema, pipeline, asset, [(first, hi)])
            found = sorted(windows, key=lambda r: r.first)
        return RangeSummary(stored, clip(found, first, last))


async def orderings(conn: asyncpg.Connection, schema: str, pipeline: str) -> dict[str, str]:
    """Return, per asset of ``pipeline`` that has ranges, the fingerprint they follow."""
    rows = await conn.fetch(
        f"SELECT asset, ordering FROM {schema}.partition_orders WHERE pipeline = $1", pipeline
    )
    return {row[0]: row[1] for row in rows}


async def rebuild(
    conn: asyncpg.Connection, schema: str, pipeline: str, asset: str, order: PartitionOrdinals
) -> None:
    """Recompute the ranges of ``asset`` under its range lock, in one transaction."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", range_lock(schema, pipeline, asset))
        points = []
        async with conn.transaction():  # a cursor needs a transaction (a savepoint here)
            cursor = conn.cursor(
                f"SELECT pkey, latest_status FROM {schema}.asset_partitions "
                f"WHERE pipeline = $1 AND asset = $2",
                pipeline,
                asset,
                prefetch=10_000,
            )
            async for row in cursor:
                ordinal = order.ordinal(decode_pkey(row[0]))
                if ordinal is not None:
                    points.append((ordinal, row[1]))
        await drop(conn, schema, pipeline, asset)
        await _insert(conn, schema, pipeline, asset, run_length(points))
        await conn.execute(
            f"INSERT INTO {schema}.partition_orders (pipeline, asset, ordering) "
            f"VALUES ($1, $2, $3)",
            pipeline,
            asset,
            order.fingerprint,
        )
