"""The PostgreSQL statements that differ from SQLite's: set-based batch upserts and set
parameters, as coroutines over an ``asyncpg`` connection.

Internal, not part of the public API. A batch is sent as one array per column and expanded
server-side with ``unnest``: one statement (one round trip) per table, whatever the batch size,
and every row of a table is upserted by the same ``INSERT ... ON CONFLICT``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from flowstone.errors import StorageError
from flowstone.storage import _postgres_ranges as ranges
from flowstone.storage import _sql
from flowstone.storage._changes import change_rows
from flowstone.storage._codec import (
    encode_pkey,
    input_values,
    lineage_entries,
    materialization_from_row,
    materialization_values,
    run_from_row,
    run_values,
)
from flowstone.storage._migrations import LATEST_VERSION, pending, too_new_message
from flowstone.storage._ranges import PartitionOrdinals
from flowstone.storage._records import LineageEntry, MaterializationRecord, RunRecord

_RUN_TYPES = (
    "text[], text[], text[], jsonb[], text[], timestamptz[], timestamptz[], text[], text[], "
    "text[], text[], jsonb[], jsonb[], text[]"
)
_MAT_TYPES = (
    "text[], text[], text[], text[], int[], text[], timestamptz[], timestamptz[], text[], "
    "text[], text[], text[], text[], jsonb[], jsonb[], jsonb[], text[], text[], timestamptz[], "
    "text[]"
)
_INPUT_COLUMNS = (
    "materialization_id, position, upstream_asset, upstream_partition, upstream_pkey, "
    "upstream_materialization_id, tenant"
)
_INPUT_TYPES = "text[], int[], text[], text[], text[], text[], text[]"


def _unnest(types: str) -> str:
    casts = ", ".join(f"${n}::{t.strip()}" for n, t in enumerate(types.split(","), start=1))
    return f"SELECT * FROM unnest({casts})"


def _set_all(columns: str, key: str) -> str:
    names = [c.strip() for c in columns.split(",") if c.strip() != key]
    return ", ".join(f"{n} = excluded.{n}" for n in names)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Transpose rows into one list per column (what ``unnest`` takes)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


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
        mat_columns = f"{_sql.MAT_COLUMNS}, pkey, event_at, pipeline"
        self.upsert_runs = (
            f"INSERT INTO {s}.runs ({_sql.RUN_COLUMNS}) {_unnest(_RUN_TYPES)} "
            f"ON CONFLICT (run_id) DO UPDATE SET {_set_all(_sql.RUN_COLUMNS, 'run_id')}"
        )
        self.upsert_materializations = (
            f"INSERT INTO {s}.materializations ({mat_columns}) {_unnest(_MAT_TYPES)} "
            f"ON CONFLICT (id) DO UPDATE SET {_set_all(mat_columns, 'id')}"
        )
        self.keys_of = (
            f"SELECT pipeline, asset, pkey FROM {s}.materializations WHERE id = ANY($1::text[])"
        )
        self.delete_inputs = (
            f"DELETE FROM {s}.materialization_inputs WHERE materialization_id = ANY($1::text[])"
        )
        self.insert_inputs = (
            f"INSERT INTO {s}.materialization_inputs ({_INPUT_COLUMNS}) {_unnest(_INPUT_TYPES)}"
        )
        self.refresh = _refresh(s)
        bare = s.strip('"')
        self.channel = f"flowstone_changes_{bare}"[:63]
        digest = hashlib.sha256(f"flowstone.changes:{bare}".encode()).digest()
        self.changes_lock = int.from_bytes(digest[:8], "big", signed=True)
        self.forget_empty = (
            f"DELETE FROM {s}.asset_partitions ap USING unnest($1::text[], $2::text[], "
            f"$3::text[]) AS k(pipeline, asset, pkey) WHERE ap.pipeline = k.pipeline "
            f"AND ap.asset = k.asset AND ap.pkey = k.pkey AND NOT EXISTS (SELECT 1 FROM "
            f"{s}.materializations m WHERE m.pipeline = k.pipeline AND m.asset = k.asset "
            f"AND m.pkey = k.pkey)"
        )


def _refresh(s: str) -> str:
    # Recompute the newest and newest-succeeded pointers of every (asset, partition) the batch
    # touched; each LATERAL is one descending index probe. The row belongs to the tenant of
    # the newest record.
    newest = (
        f"FROM {s}.materializations m "
        f"WHERE m.pipeline = k.pipeline AND m.asset = k.asset AND m.pkey = k.pkey"
    )
    return f"""
    INSERT INTO {s}.asset_partitions (pipeline, asset, pkey, partition, latest_id,
        latest_status, latest_at, succeeded_id, succeeded_at, tenant)
    SELECT k.pipeline, k.asset, k.pkey, l.partition, l.id, l.status, l.event_at, ok.id,
        ok.event_at, l.tenant
    FROM unnest($1::text[], $2::text[], $3::text[]) AS k(pipeline, asset, pkey)
    CROSS JOIN LATERAL (SELECT m.partition, m.id, m.status, m.event_at, m.tenant {newest}
        ORDER BY m.event_at DESC, m.id DESC LIMIT 1) l
    LEFT JOIN LATERAL (SELECT m.id, m.event_at {newest} AND m.status = 'succeeded'
        ORDER BY m.event_at DESC, m.id DESC LIMIT 1) ok ON true
    ON CONFLICT (pipeline, asset, pkey) DO UPDATE SET partition = excluded.partition,
        latest_id = excluded.latest_id, latest_status = excluded.latest_status,
        latest_at = excluded.latest_at, succeeded_id = excluded.succeeded_id,
        succeeded_at = excluded.succeeded_at, tenant = excluded.tenant"""


_KEY_DRIVEN = "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off"


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


async def write(
    conn: asyncpg.Connection,
    st: Statements,
    runs: Sequence[RunRecord],
    mats: Sequence[MaterializationRecord],
    orders: Mapping[str, PartitionOrdinals] | None = None,
) -> None:
    """Upsert a batch in one transaction; durable when the commit returns."""
    async with conn.transaction():
        # Every statement below is driven by the batch's keys and should probe indexes. On
        # tables without fresh statistics (just bulk-loaded, autovacuum off) the planner may
        # pick sequential scans of million-row tables instead; rule them out for this
        # transaction only.
        await conn.execute(_KEY_DRIVEN)
        if runs:
            await conn.execute(st.upsert_runs, *_columns([run_values(r, _same) for r in runs], 14))
        if mats:
            await _write_materializations(conn, st, mats, orders)
        await append_changes(conn, st, runs, mats)


async def _write_materializations(
    conn: asyncpg.Connection,
    st: Statements,
    mats: Sequence[MaterializationRecord],
    orders: Mapping[str, PartitionOrdinals] | None,
) -> None:
    """Upsert materializations with their inputs, pointers and status ranges."""
    ids = [m.id for m in mats]
    found = await conn.fetch(st.keys_of, ids)
    keys = {(r["pipeline"], r["asset"], r["pkey"]) for r in found}
    keys.update((st.pipeline, m.asset, encode_pkey(m.partition)) for m in mats)
    rows = [(*materialization_values(m, _same), st.pipeline) for m in mats]
    await conn.execute(st.upsert_materializations, *_columns(rows, 20))
    await conn.execute(st.delete_inputs, ids)
    inputs = [row for m in mats for row in input_values(m)]
    if inputs:
        await conn.execute(st.insert_inputs, *_columns(inputs, 7))
    pipelines, assets, pkeys = _columns(sorted(keys), 3)
    await conn.execute(st.refresh, pipelines, assets, pkeys)
    await conn.execute(st.forget_empty, pipelines, assets, pkeys)
    if orders:
        mine = [(asset, pkey) for p, asset, pkey in keys if p == st.pipeline]
        await ranges.maintain(conn, st.schema, st.pipeline, mine, orders)


async def append_changes(
    conn: asyncpg.Connection,
    st: Statements,
    runs: Sequence[RunRecord],
    mats: Sequence[MaterializationRecord],
) -> None:
    """Log the batch in ``changes`` and notify listeners (delivered at commit).

    The lock makes sequence numbers follow commit order: a writer holding it commits before
    the next one draws numbers, so a reader of ``seq > cursor`` never misses a row that
    commits later with a smaller number. It is taken by the batch's last statements and
    held only until the commit right after them.
    """
    rows = change_rows(runs, mats)
    if not rows:
        return
    await conn.execute("SELECT pg_advisory_xact_lock($1)", st.changes_lock)
    await conn.execute(
        f"INSERT INTO {st.schema}.changes (pipeline, kind, run_id, asset, partition, status) "
        f"SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])",
        st.pipeline,
        *_columns(rows, 5),
    )
    await conn.execute("SELECT pg_notify($1, '')", st.channel)


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
