"""PostgreSQL statements of the change log and the runtime snapshots the dashboard reads.

Internal, not part of the public API; ``PostgresStorage`` runs them through its retrying
connection pool.
"""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from flowstone.storage._changes import Change, RuntimeSnapshot
from flowstone.storage._codec import require_aware


async def fetch_changes(
    conn: asyncpg.Connection, schema: str, pipeline: str, after: int, limit: int
) -> list[Change]:
    """The change-log rows of ``pipeline`` numbered above ``after``, oldest first."""
    rows = await conn.fetch(
        f"SELECT seq, at, kind, run_id, asset, partition, status FROM {schema}.changes "
        f"WHERE pipeline = $3 AND seq > $1 ORDER BY seq LIMIT $2",
        after,
        limit,
        pipeline,
    )
    return [Change(*row) for row in rows]


async def last_change(conn: asyncpg.Connection, schema: str, pipeline: str) -> int:
    """The number of the newest change-log row of ``pipeline`` (0 when none)."""
    text = f"SELECT coalesce(max(seq), 0) FROM {schema}.changes WHERE pipeline = $1"
    return int(await conn.fetchval(text, pipeline))


async def write_runtime(conn: asyncpg.Connection, schema: str, snapshot: RuntimeSnapshot) -> None:
    """Upsert a runtime's report and forget runtimes silent for a day."""
    seen = require_aware(snapshot.seen_at, "seen_at")
    values = (
        snapshot.id,
        snapshot.pipeline,
        snapshot.host,
        snapshot.pid,
        require_aware(snapshot.started_at, "started_at"),
        seen,
        json.dumps(snapshot.tree),
    )
    async with conn.transaction():
        await conn.execute(
            f"INSERT INTO {schema}.runtimes (id, pipeline, host, pid, started_at, seen_at, "
            f"tree) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO UPDATE SET "
            f"seen_at = excluded.seen_at, tree = excluded.tree",
            *values,
        )
        await conn.execute(
            f"DELETE FROM {schema}.runtimes WHERE seen_at < $1::timestamptz - interval '1 day'",
            seen,
        )


async def fetch_runtimes(
    conn: asyncpg.Connection, schema: str, pipeline: str, seen_after: datetime
) -> list[RuntimeSnapshot]:
    """The runtimes of ``pipeline`` seen after ``seen_after``, newest first."""
    rows = await conn.fetch(
        f"SELECT id, pipeline, host, pid, started_at, seen_at, tree::text FROM "
        f"{schema}.runtimes WHERE pipeline = $1 AND seen_at > $2 ORDER BY seen_at DESC",
        pipeline,
        seen_after,
    )
    return [RuntimeSnapshot(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]
