"""The PostgreSQL statements that differ from SQLite's: migrations, set parameters and the
reads, as coroutines over an ``asyncpg`` connection.

Internal, not part of the public API. A batch write is one call of the ``write_batch``
function (``_postgres_write``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from flowstone.errors import StorageError
from flowstone.storage import _postgres_ranges as ranges
from flowstone.storage import _sql
from flowstone.storage._codec import (
    encode_pkey,
    lineage_entries,
    materialization_from_row,
    run_from_row,
)
from flowstone.storage._migrations import LATEST_VERSION, pending, too_new_message
from flowstone.storage._records import LineageEntry, MaterializationRecord, RunRecord


class Statements:
    """Every statement of one schema, formatted once."""

    def __init__(self, schema: str, pipeline: str = "") -> None:
        s = self.schema = schema
        self.pipeline = pipeline
        self.dialect = _sql.Dialect(
            prefix=f"{s}.",
            to_time=lambda value: value,
            key_cast='CAST({} AS text) COLLATE "C"',
            lateral=True,
            pipeline=pipeline,
        )
        bare = s.strip('"')
        self.channel = f"flowstone_changes_{bare}"[:63]
        digest = hashlib.sha256(f"flowstone.changes:{bare}".encode()).digest()
        self.changes_lock = int.from_bytes(digest[:8], "big", signed=True)
        self.write_batch = f"SELECT {s}.write_batch($1::jsonb)"
        self._range_locks: dict[str, int] = {}

    def range_lock(self, asset: str) -> int:
        """Return the advisory lock key of ``asset``'s status ranges (computed once)."""
        key = self._range_locks.get(asset)
        if key is None:
            key = self._range_locks[asset] = ranges.range_lock(self.schema, self.pipeline, asset)
        return key


def _same(value: datetime) -> datetime:
    return value


# -- schema -----------------------------------------------------------------------------------


async def migrate(conn: asyncpg.Connection, st: Statements, lock_key: int, where: str) -> int:
    """Apply pending migrations under a transaction-scoped advisory lock.

    The lock serialises concurrent start-ups (several processes opening the same database):
    the second waits, then finds the schema current and applies nothing. A store already
    current is recognised first, without DDL, so roles that may use the tables but not
    create anything (an application role under row-level security) can open it.
    """
    current = await _applied_version(conn, st)
    if current is not None and current >= LATEST_VERSION:
        return _not_too_new(current, where)
    s = st.schema
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
        exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", s.strip('"'))
        if not exists:
            await conn.execute(f"CREATE SCHEMA {s}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer PRIMARY KEY, "
            f"name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = _not_too_new(await schema_version(conn, st), where)
        for migration in pending(current):
            for statement in migration.postgres:
                await conn.execute(statement.format(s=s))
            await conn.execute(
                f"INSERT INTO {s}.schema_version (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
    return await schema_version(conn, st)


async def _applied_version(conn: asyncpg.Connection, st: Statements) -> int | None:
    """Return the applied version, or None when the store has no schema_version table."""
    table = await conn.fetchval("SELECT to_regclass($1)", f"{st.schema}.schema_version")
    return None if table is None else await schema_version(conn, st)


def _not_too_new(version: int, where: str) -> int:
    if version > LATEST_VERSION:
        raise StorageError(too_new_message(version, where))
    return version


async def schema_version(conn: asyncpg.Connection, st: Statements) -> int:
    """Return the highest applied migration."""
    value = await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {st.schema}.schema_version")
    return int(value)


async def table_activity(conn: asyncpg.Connection, st: Statements) -> tuple[int, int]:
    """Return (live rows, rows modified since the last ANALYZE) of the materializations."""
    row = await conn.fetchrow(
        "SELECT n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables "
        "WHERE schemaname = $1 AND relname = 'materializations'",
        st.schema.strip('"'),
    )
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


# -- writes -----------------------------------------------------------------------------------


async def add_dynamic_partitions(
    conn: asyncpg.Connection, st: Statements, name: str, keys: Sequence[str]
) -> list[str]:
    """Insert the keys not yet present; return them in the order given."""
    wanted = list(dict.fromkeys(keys))
    rows = await conn.fetch(
        f"INSERT INTO {st.schema}.dynamic_partitions (name, key) "
        f"SELECT $1, k FROM unnest($2::text[]) WITH ORDINALITY AS t(k, o) ORDER BY o "
        f"ON CONFLICT (name, key) DO NOTHING RETURNING key",
        name,
        wanted,
    )
    added = {row["key"] for row in rows}
    return [key for key in wanted if key in added]


# -- reads ------------------------------------------------------------------------------------


async def fetch_runs(conn: asyncpg.Connection, query: _sql.Query) -> list[RunRecord]:
    """Run a query over RUN_COLUMNS."""
    text, args = query.positional()
    return [run_from_row(row, _same) for row in await conn.fetch(text, *args)]


async def fetch_materializations(
    conn: asyncpg.Connection, query: _sql.Query
) -> list[MaterializationRecord]:
    """Run a query over MAT_COLUMNS."""
    text, args = query.positional()
    return [materialization_from_row(row, _same) for row in await conn.fetch(text, *args)]


async def fetch_pairs(conn: asyncpg.Connection, query: _sql.Query) -> list[tuple[Any, Any]]:
    """Run a two-column query."""
    text, args = query.positional()
    return [(row[0], row[1]) for row in await conn.fetch(text, *args)]


async def lineage(conn: asyncpg.Connection, query: _sql.Query) -> list[LineageEntry]:
    """Run an upstream or downstream walk."""
    text, args = query.positional()
    return lineage_entries(tuple(row) for row in await conn.fetch(text, *args))


def latest_query(
    st: Statements,
    asset: str,
    partitions: Sequence[str | None],
    status: str | None,
    as_of: datetime | None,
) -> _sql.Query:
    """Return the one query behind ``Storage.latest``."""
    s = st.schema
    params: dict[str, Any] = {
        "pipeline": st.pipeline,
        "asset": asset,
        "keys": [encode_pkey(p) for p in dict.fromkeys(partitions)],
    }
    columns = _sql.mat_columns("m")
    if as_of is None and status in ("succeeded", None):
        pointer = "succeeded_id" if status == "succeeded" else "latest_id"
        # Per-key probes (LIMIT 1 keeps the subquery from being flattened into a join the
        # planner might hash against a full scan when statistics are missing).
        text = f"""SELECT {columns} FROM unnest(:keys::text[]) AS w(pkey)
            CROSS JOIN LATERAL (SELECT x.* FROM {s}.asset_partitions ap
                JOIN {s}.materializations x ON x.id = ap.{pointer}
                WHERE ap.pipeline = :pipeline AND ap.asset = :asset AND ap.pkey = w.pkey
                LIMIT 1) m"""
        return _sql.Query(text, params)
    conditions = ["x.pipeline = :pipeline", "x.asset = :asset", "x.pkey = w.pkey"]
    if status == "succeeded":
        conditions.append("x.status = 'succeeded'")
    elif status is not None:
        conditions.append("x.status = :status")
        params["status"] = status
    if as_of is not None:
        conditions.append("x.event_at <= :as_of")
        params["as_of"] = as_of
    text = f"""SELECT {columns} FROM unnest(:keys::text[]) AS w(pkey)
        CROSS JOIN LATERAL (SELECT * FROM {s}.materializations x
            WHERE {" AND ".join(conditions)} ORDER BY x.event_at DESC, x.id DESC LIMIT 1) m"""
    return _sql.Query(text, params)
