"""Grow FlowStone's PostgreSQL record store to a million materializations, fast.

Going through the runtime would take hours, so the records a real backfill wrote are copied
in SQL as older history: each copy of a materialization gets a new id and earlier
timestamps, and its inputs rows follow it. The copy reads the column list from
``information_schema``, so columns added by later migrations are carried along as they are.
This knows the table names of the schema (``materializations``, ``materialization_inputs``)
and nothing else; if they change, the metric reports why it cannot seed.
"""

from __future__ import annotations

import math
from typing import Any

SCHEMA = "flowstone"
_TIMES = ("started_at", "finished_at", "event_at")
_IDS = {"materializations": ("id",), "materialization_inputs": ("materialization_id",)}
_OPTIONAL_IDS = {"materialization_inputs": ("upstream_materialization_id",)}


class SeedError(RuntimeError):
    """Raised when the schema does not have what the seeding relies on."""


async def _columns(connection: Any, table: str) -> list[str]:
    rows = await connection.fetch(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        SCHEMA,
        table,
    )
    columns = [row["column_name"] for row in rows]
    if not columns:
        raise SeedError(f"no table {SCHEMA}.{table}: the record store schema changed")
    return columns


def _expression(table: str, column: str) -> str:
    """The SELECT expression that makes copy number ``g`` of ``column``."""
    quoted = f'"{column}"'
    if column in _IDS[table]:
        return f"{quoted} || '~h' || g"
    if column in _OPTIONAL_IDS.get(table, ()):
        return f"CASE WHEN {quoted} IS NULL THEN NULL ELSE {quoted} || '~h' || g END"
    if column in _TIMES:
        return f"{quoted} - g * interval '1 second'"
    return quoted


async def _copy(connection: Any, table: str, copies: int) -> None:
    columns = await _columns(connection, table)
    missing = [c for c in _IDS[table] if c not in columns]
    if missing:
        raise SeedError(f"{SCHEMA}.{table} has no column {missing[0]!r}: the schema changed")
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(_expression(table, c) for c in columns)
    await connection.execute(
        f"INSERT INTO {SCHEMA}.{table} ({names})"
        f" SELECT {values} FROM {SCHEMA}.{table}, generate_series(1, {copies}) AS g"
    )


async def seed_history(dsn: str, target: int) -> int:
    """Copy the recorded materializations until there are about ``target``; return the count."""
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        base = await connection.fetchval(f"SELECT count(*) FROM {SCHEMA}.materializations")
        if not base:
            raise SeedError(f"{SCHEMA}.materializations is empty: nothing to copy")
        copies = max(0, math.ceil(target / base) - 1)
        async with connection.transaction():
            await _copy(connection, "materializations", copies)
            await _copy(connection, "materialization_inputs", copies)
        # What autovacuum would do soon after a bulk load; the queries then see real statistics.
        await connection.execute(f"ANALYZE {SCHEMA}.materializations")
        await connection.execute(f"ANALYZE {SCHEMA}.materialization_inputs")
        total: int = await connection.fetchval(f"SELECT count(*) FROM {SCHEMA}.materializations")
        return total
    finally:
        await connection.close()
