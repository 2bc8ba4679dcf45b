"""The SQLite statements, as plain functions over a ``sqlite3.Connection``.

Internal, not part of the public API. Everything here is synchronous and runs on the
backend's worker threads (``_sqlite.py``), never on the event loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flowstone.errors import StorageError
from flowstone.storage import _sql
from flowstone.storage import _sqlite_ranges as ranges
from flowstone.storage._changes import Change, RuntimeSnapshot, change_rows
from flowstone.storage._codec import (
    encode_pkey,
    from_micros,
    input_values,
    lineage_entries,
    materialization_from_row,
    materialization_values,
    run_from_row,
    run_values,
    to_micros,
)
from flowstone.storage._migrations import LATEST_VERSION, pending, too_new_message
from flowstone.storage._ranges import PartitionOrdinals
from flowstone.storage._records import (
    LineageEntry,
    MaterializationRecord,
    RunRecord,
)

DIALECT = _sql.Dialect(prefix="", to_time=to_micros)

_UPSERT_RUN = f"""
INSERT INTO runs ({_sql.RUN_COLUMNS}) VALUES ({", ".join("?" * 14)})
ON CONFLICT (run_id) DO UPDATE SET
    pipeline = excluded.pipeline, kind = excluded.kind, targets = excluded.targets,
    status = excluded.status, started_at = excluded.started_at,
    finished_at = excluded.finished_at, triggered_by = excluded.triggered_by,
    trigger = excluded.trigger, backfill_id = excluded.backfill_id,
    partition = excluded.partition, metadata = excluded.metadata, error = excluded.error,
    tenant = excluded.tenant"""

_UPSERT_MATERIALIZATION = f"""
INSERT INTO materializations ({_sql.MAT_COLUMNS}, pkey, event_at, pipeline)
VALUES ({", ".join("?" * 20)})
ON CONFLICT (id) DO UPDATE SET
    run_id = excluded.run_id, asset = excluded.asset, partition = excluded.partition,
    attempt = excluded.attempt, status = excluded.status, started_at = excluded.started_at,
    finished_at = excluded.finished_at, triggered_by = excluded.triggered_by,
    trigger = excluded.trigger, user_name = excluded.user_name, host = excluded.host,
    code_version = excluded.code_version, inputs = excluded.inputs,
    metadata = excluded.metadata, error = excluded.error, tenant = excluded.tenant,
    pkey = excluded.pkey, event_at = excluded.event_at, pipeline = excluded.pipeline"""

_INSERT_INPUT = """
INSERT INTO materialization_inputs (materialization_id, position, upstream_asset,
    upstream_partition, upstream_pkey, upstream_materialization_id, tenant)
VALUES (?, ?, ?, ?, ?, ?, ?)"""

# Recompute the denormalised newest / newest-succeeded pointers of one (pipeline, asset,
# partition); the row belongs to the tenant of the newest record.
_KEY = "pipeline = :pipeline AND asset = :asset AND pkey = :pkey"
_REFRESH_PARTITION = f"""
INSERT INTO asset_partitions (pipeline, asset, pkey, partition, latest_id, latest_status,
    latest_at, succeeded_id, succeeded_at, tenant)
SELECT l.pipeline, l.asset, l.pkey, l.partition, l.id, l.status, l.event_at, s.id, s.event_at,
    l.tenant
FROM (SELECT pipeline, asset, pkey, partition, id, status, event_at, tenant
      FROM materializations WHERE {_KEY} {_sql.NEWEST_FIRST} LIMIT 1) AS l
LEFT JOIN (SELECT id, event_at FROM materializations
      WHERE {_KEY} AND status = 'succeeded' {_sql.NEWEST_FIRST} LIMIT 1) AS s ON 1
WHERE 1
ON CONFLICT (pipeline, asset, pkey) DO UPDATE SET
    partition = excluded.partition, latest_id = excluded.latest_id,
    latest_status = excluded.latest_status, latest_at = excluded.latest_at,
    succeeded_id = excluded.succeeded_id, succeeded_at = excluded.succeeded_at,
    tenant = excluded.tenant"""

# The pointers of a key after a record new to the store: it becomes the newest (and the
# newest succeeded, if it succeeded) when it orders after the one the row points to. The same
# result as _REFRESH_PARTITION as long as the row was current, without reading the key's
# records back; a replaced record can make a pointer older, and takes _REFRESH_PARTITION.
_NEWER = (
    "(excluded.latest_at > latest_at"
    " OR (excluded.latest_at = latest_at AND excluded.latest_id > latest_id))"
)
_NEWER_SUCCEEDED = (
    "(excluded.succeeded_id IS NOT NULL AND (succeeded_id IS NULL"
    " OR excluded.succeeded_at > succeeded_at"
    " OR (excluded.succeeded_at = succeeded_at AND excluded.succeeded_id > succeeded_id)))"
)
_ADVANCE_PARTITION = f"""
INSERT INTO asset_partitions (pipeline, asset, pkey, partition, latest_id, latest_status,
    latest_at, succeeded_id, succeeded_at, tenant)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (pipeline, asset, pkey) DO UPDATE SET
    partition = CASE WHEN {_NEWER} THEN excluded.partition ELSE partition END,
    latest_id = CASE WHEN {_NEWER} THEN excluded.latest_id ELSE latest_id END,
    latest_status = CASE WHEN {_NEWER} THEN excluded.latest_status ELSE latest_status END,
    latest_at = CASE WHEN {_NEWER} THEN excluded.latest_at ELSE latest_at END,
    tenant = CASE WHEN {_NEWER} THEN excluded.tenant ELSE tenant END,
    succeeded_id = CASE WHEN {_NEWER_SUCCEEDED} THEN excluded.succeeded_id
        ELSE succeeded_id END,
    succeeded_at = CASE WHEN {_NEWER_SUCCEEDED} THEN excluded.succeeded_at
        ELSE succeeded_at END
WHERE {_NEWER} OR {_NEWER_SUCCEEDED}"""

_FORGET_EMPTY_PARTITION = f"""
DELETE FROM asset_partitions WHERE {_KEY}
AND NOT EXISTS (SELECT 1 FROM materializations WHERE {_KEY})"""


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a write transaction; IMMEDIATE takes the write lock up front, so two processes
    never both read a stale state and then collide on upgrade to a writer."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # SQLite rolls some failures back by itself (SQLITE_FULL, SQLITE_IOERR): a second
        # ROLLBACK would fail and hide the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# -- schema -----------------------------------------------------------------------------------


def migrate(conn: sqlite3.Connection, where: str) -> int:
    """Apply pending migrations; return the resulting version."""
    with transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        )
        current = schema_version(conn)
        if current > LATEST_VERSION:
            raise StorageError(too_new_message(current, where))
        for migration in pending(current):
            for statement in migration.sqlite:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, to_micros(datetime.now(UTC))),
            )
    return schema_version(conn)


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the highest applied migration (0 on an empty database)."""
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0])


# -- writes -----------------------------------------------------------------------------------


def write(
    conn: sqlite3.Connection,
    runs: Sequence[RunRecord],
    mats: Sequence[MaterializationRecord],
    pipeline: str,
    orders: Mapping[str, PartitionOrdinals] | None = None,
) -> None:
    """Upsert runs and materializations (of ``pipeline``) in one transaction, refresh the
    partition pointers and the status ranges of assets with a registered order, and log the
    batch in the change log."""
    with transaction(conn):
        if runs:
            conn.executemany(_UPSERT_RUN, [run_values(r, to_micros) for r in runs])
        now = to_micros(datetime.now(UTC))
        conn.executemany(
            "INSERT INTO changes (at, pipeline, kind, run_id, asset, partition, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(now, pipeline, *row) for row in change_rows(runs, mats)],
        )
        if not mats:
            return
        # A replaced record may have moved (same id, other key): refresh its old key too.
        replaced = _stored_keys(conn, [m.id for m in mats])
        values = [(*materialization_values(m, to_micros), pipeline) for m in mats]
        new_keys = {(pipeline, m.asset, v[17]) for m, v in zip(mats, values, strict=True)}
        old_keys = {(p, asset, pkey) for _, p, asset, pkey in replaced} - new_keys
        conn.executemany(_UPSERT_MATERIALIZATION, values)
        # Skip the statements with nothing to do: only a record written before has input
        # rows to replace, and only the keys replaced records left may now be empty.
        if replaced:
            conn.execute(
                "DELETE FROM materialization_inputs "
                "WHERE materialization_id IN (SELECT value FROM json_each(?))",
                (json.dumps([row[0] for row in replaced]),),
            )
        conn.executemany(_INSERT_INPUT, [row for m in mats for row in input_values(m)])
        # A key only new records reach moves its pointers forward from the row alone; a key
        # a replaced record is (or was) at is recomputed from its records.
        recompute = old_keys | {(p, asset, pkey) for _, p, asset, pkey in replaced}
        conn.executemany(
            _ADVANCE_PARTITION,
            [
                _pointer_values(v, pipeline)
                for v in values
                if (pipeline, v[2], v[17]) not in recompute
            ],
        )
        if recompute:
            conn.executemany(_REFRESH_PARTITION, [_key_params(key) for key in recompute])
        if old_keys:
            conn.executemany(_FORGET_EMPTY_PARTITION, [_key_params(key) for key in old_keys])
        if orders:
            mine = [(asset, pkey) for p, asset, pkey in new_keys | old_keys if p == pipeline]
            ranges.maintain(conn, pipeline, mine, orders)


_FEW = 16
"""Up to this many ids are looked up with ``id IN (?, ...)``; more through ``json_each``."""


def _stored_keys(conn: sqlite3.Connection, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    """Return ``(id, pipeline, asset, pkey)`` of the records among ``ids`` already stored."""
    select = "SELECT id, pipeline, asset, pkey FROM materializations WHERE id"
    if len(ids) == 1:
        return conn.execute(f"{select} = ?", ids).fetchall()
    if len(ids) <= _FEW:
        return conn.execute(f"{select} IN ({', '.join('?' * len(ids))})", ids).fetchall()
    return conn.execute(
        f"{select} IN (SELECT value FROM json_each(?))", (json.dumps(list(ids)),)
    ).fetchall()


def _pointer_values(values: tuple[Any, ...], pipeline: str) -> tuple[Any, ...]:
    """The ``_ADVANCE_PARTITION`` parameters of a record's column values
    (``materialization_values``: id 0, asset 2, partition 3, status 5, tenant 16, pkey 17,
    event_at 18)."""
    succeeded = values[5] == "succeeded"
    return (
        pipeline,
        values[2],
        values[17],
        values[3],
        values[0],
        values[5],
        values[18],
        values[0] if succeeded else None,
        values[18] if succeeded else None,
        values[16],
    )


def _key_params(key: tuple[str, str, str]) -> dict[str, str]:
    pipeline, asset, pkey = key
    return {"pipeline": pipeline, "asset": asset, "pkey": pkey}


def rebuild_ranges(
    conn: sqlite3.Connection, pipeline: str, asset: str, order: PartitionOrdinals
) -> None:
    """Recompute the status ranges of one asset in a write transaction."""
    with transaction(conn):
        ranges.rebuild(conn, pipeline, asset, order)


def prune(conn: sqlite3.Connection, dialect: _sql.Dialect, older_than: datetime) -> int:
    """Delete what ``Storage.prune`` allows; return how many materializations went."""
    query = _sql.prune(dialect, older_than)
    with transaction(conn):
        conn.execute("DELETE FROM changes WHERE at < ?", (to_micros(older_than),))
        conn.execute(query.text, query.params)
        # rowcount is -1 for a statement that starts with WITH; changes() counts the rows
        # the DELETE itself removed (not the inputs removed by the cascade).
        return int(conn.execute("SELECT changes()").fetchone()[0])


def add_dynamic_partitions(conn: sqlite3.Connection, name: str, keys: Sequence[str]) -> list[str]:
    """Insert the keys not yet present; return them in the order given."""
    new: list[str] = []
    with transaction(conn):
        for key in dict.fromkeys(keys):
            cursor = conn.execute(
                "INSERT INTO dynamic_partitions (name, key) VALUES (?, ?) "
                "ON CONFLICT (name, key) DO NOTHING",
                (name, key),
            )
            if cursor.rowcount:
                new.append(key)
    return new


def delete_dynamic_partition(conn: sqlite3.Connection, name: str, key: str) -> bool:
    """Delete one key; return whether it existed."""
    with transaction(conn):
        cursor = conn.execute(
            "DELETE FROM dynamic_partitions WHERE name = ? AND key = ?", (name, key)
        )
    return cursor.rowcount > 0


# -- reads ------------------------------------------------------------------------------------


def fetch_runs(conn: sqlite3.Connection, query: _sql.Query) -> list[RunRecord]:
    """Run a query over RUN_COLUMNS."""
    return [run_from_row(row, from_micros) for row in conn.execute(query.text, query.params)]


def fetch_materializations(
    conn: sqlite3.Connection, query: _sql.Query
) -> list[MaterializationRecord]:
    """Run a query over MAT_COLUMNS."""
    rows = conn.execute(query.text, query.params)
    return [materialization_from_row(row, from_micros) for row in rows]


def latest(
    conn: sqlite3.Connection,
    pipeline: str,
    asset: str,
    partitions: Sequence[str | None],
    status: str | None,
    as_of: datetime | None,
) -> list[MaterializationRecord]:
    """Return the newest matching materialization of each partition (one query)."""
    params: dict[str, Any] = {
        "pipeline": pipeline,
        "asset": asset,
        "keys": json.dumps([encode_pkey(p) for p in dict.fromkeys(partitions)]),
    }
    if as_of is None and status in ("succeeded", None):
        pointer = "succeeded_id" if status == "succeeded" else "latest_id"
        # CROSS JOIN fixes the join order in SQLite: walk the wanted keys, probe the index.
        text = f"""SELECT {_sql.mat_columns("m")} FROM json_each(:keys) w
            CROSS JOIN asset_partitions ap
                ON ap.pipeline = :pipeline AND ap.asset = :asset AND ap.pkey = w.value
            CROSS JOIN materializations m ON m.id = ap.{pointer}"""
    else:
        if status is not None:
            params["status"] = status
        if as_of is not None:
            params["as_of"] = to_micros(as_of)
        newest = _sql.newest_id(status, as_of is not None, ":asset", "w.value")
        text = f"""SELECT {_sql.mat_columns("m")} FROM json_each(:keys) w
            CROSS JOIN materializations m ON m.id = {DIALECT.sql(newest)}"""
    return fetch_materializations(conn, _sql.Query(text, params))


def lineage(conn: sqlite3.Connection, query: _sql.Query) -> list[LineageEntry]:
    """Run an upstream or downstream walk."""
    return lineage_entries(conn.execute(query.text, query.params).fetchall())


def dynamic_partitions(conn: sqlite3.Connection, name: str) -> list[str]:
    """Return the keys of a set in insertion order."""
    rows = conn.execute("SELECT key FROM dynamic_partitions WHERE name = ? ORDER BY seq", (name,))
    return [row[0] for row in rows]


def changes(conn: sqlite3.Connection, pipeline: str, after: int, limit: int) -> list[Change]:
    """Return the change-log rows of ``pipeline`` above ``after``, oldest first."""
    rows = conn.execute(
        "SELECT seq, at, kind, run_id, asset, partition, status FROM changes "
        "WHERE pipeline = ? AND seq > ? ORDER BY seq LIMIT ?",
        (pipeline, after, limit),
    )
    return [Change(r[0], from_micros(r[1]), *r[2:]) for r in rows]


def last_change(conn: sqlite3.Connection, pipeline: str) -> int:
    """Return the newest change-log number of ``pipeline`` (0 when none)."""
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM changes WHERE pipeline = ?", (pipeline,)
    ).fetchone()
    return int(row[0])


def report_runtime(conn: sqlite3.Connection, snapshot: RuntimeSnapshot) -> None:
    """Upsert a runtime's report and forget runtimes not seen for a day."""
    seen = to_micros(snapshot.seen_at)
    with transaction(conn):
        conn.execute(
            "INSERT INTO runtimes (id, pipeline, host, pid, started_at, seen_at, tree) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "seen_at = excluded.seen_at, tree = excluded.tree",
            (
                snapshot.id,
                snapshot.pipeline,
                snapshot.host,
                snapshot.pid,
                to_micros(snapshot.started_at),
                seen,
                json.dumps(snapshot.tree),
            ),
        )
        conn.execute("DELETE FROM runtimes WHERE seen_at < ?", (seen - 86_400_000_000,))


def runtimes(
    conn: sqlite3.Connection, pipeline: str, seen_after: datetime
) -> list[RuntimeSnapshot]:
    """Return ``pipeline``'s runtimes seen after ``seen_after``, newest first."""
    rows = conn.execute(
        "SELECT id, pipeline, host, pid, started_at, seen_at, tree FROM runtimes "
        "WHERE pipeline = ? AND seen_at > ? ORDER BY seen_at DESC",
        (pipeline, to_micros(seen_after)),
    )
    return [
        RuntimeSnapshot(
            r[0], r[1], r[2], r[3], from_micros(r[4]), from_micros(r[5]), json.loads(r[6])
        )
        for r in rows
    ]
