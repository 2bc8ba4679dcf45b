"""SQL text and catalog reads of ``PostgresIOManager``.

Internal, not part of the public API. Every identifier reaching SQL text went through
``quote_identifier`` (plain identifiers only, then double-quoted); every value is a bound
parameter. Layout of an asset table (docs/postgres.md):

    partition_key  text NOT NULL     -- partitioned assets only; the canonical key string
    tenant         text NOT NULL     -- assets with a tenant dimension only; RLS keys on it
    flowstone_row  integer NOT NULL  -- the row's position in the stored value
    <value columns>
    PRIMARY KEY (partition_key, flowstone_row)

and one bookkeeping table per schema, ``flowstone_io_partitions``, records every stored
partition (kind, pyarrow schema, rows), so empty partitions exist and load as what was
stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from flowstone.tenancy import quote_identifier, tenant_policy_sql

ROW_COLUMN = "flowstone_row"
PARTITIONS_TABLE = "flowstone_io_partitions"
UNPARTITIONED = ""  # the bookkeeping key of an unpartitioned asset's single value
INSERT_BATCH = 5000  # rows per INSERT ... unnest statement (tenant tables; see insert_rows)


@dataclass(frozen=True)
class Target:
    """Where one asset partition lives: table, layout columns, key and tenant."""

    schema: str
    table: str
    partition_column: str | None  # None: unpartitioned (the whole table is the value)
    partition_key: str | None
    tenant_column: str | None  # None: no tenant dimension, no row-level security
    tenant: str | None

    @property
    def name(self) -> str:
        """``schema.table``, as shown to users."""
        return f"{self.schema}.{self.table}"

    @property
    def qualified(self) -> str:
        """The quoted ``"schema"."table"``."""
        return f'"{self.schema}"."{self.table}"'

    @property
    def partitions_table(self) -> str:
        """The quoted bookkeeping table of the schema."""
        return f'"{self.schema}"."{PARTITIONS_TABLE}"'

    @property
    def layout_columns(self) -> tuple[str, ...]:
        """FlowStone's own columns of the table, in table order."""
        found = (self.partition_column, self.tenant_column, ROW_COLUMN)
        return tuple(name for name in found if name is not None)

    @property
    def key(self) -> str:
        """The bookkeeping key of this partition."""
        return UNPARTITIONED if self.partition_key is None else self.partition_key


@dataclass(frozen=True)
class Described:
    """An existing table as the catalog shows it, with the layout its comment records
    (``None`` when the table was not created by ``PostgresIOManager``)."""

    columns: dict[str, str]  # name -> format_type, in table order
    row_security: bool
    layout: dict[str, Any] | None


def lock_key(*parts: str) -> int:
    """A stable 64-bit advisory lock key for ``parts`` (the same in every process)."""
    digest = hashlib.sha256("\x00".join(("flowstone.io.postgres", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lock(conn: asyncpg.Connection, *parts: str) -> None:
    """Take a transaction-scoped advisory lock (released at commit or rollback)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(*parts))


async def describe(conn: asyncpg.Connection, schema: str, table: str) -> Described | None:
    """Return the table's columns and RLS flag, or None when it does not exist."""
    rows = await conn.fetch(
        """SELECT c.relrowsecurity, obj_description(c.oid, 'pg_class') AS comment,
                  a.attname, format_type(a.atttypid, a.atttypmod) AS type
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attribute a
             ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
           ORDER BY a.attnum""",
        schema,
        table,
    )
    if not rows:
        return None
    columns = {row["attname"]: row["type"] for row in rows if row["attname"] is not None}
    return Described(columns, bool(rows[0]["relrowsecurity"]), _layout(rows[0]["comment"]))


def _layout(comment: str | None) -> dict[str, Any] | None:
    try:
        found = json.loads(comment or "")
    except ValueError:
        return None
    if not isinstance(found, dict) or found.get("flowstone") != "PostgresIOManager":
        return None
    return found


async def schema_exists(conn: asyncpg.Connection, schema: str) -> bool:
    """Return whether the schema exists."""
    found = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
    return found is not None


def create_table(target: Target, columns: Sequence[tuple[str, str]], asset: str) -> list[str]:
    """Return the statements creating the asset table (with RLS for tenant tables)."""
    defs = []
    if target.partition_column is not None:
        defs.append(f'"{target.partition_column}" text COLLATE "C" NOT NULL')
    if target.tenant_column is not None:
        defs.append(f'"{target.tenant_column}" text COLLATE "C" NOT NULL')
    defs.append(f'"{ROW_COLUMN}" integer NOT NULL')
    defs.extend(f"{quote_identifier(name, 'column')} {pg_type}" for name, pg_type in columns)
    key = [f'"{c}"' for c in (target.partition_column, ROW_COLUMN) if c is not None]
    defs.append(f"PRIMARY KEY ({', '.join(key)})")
    comment = json.dumps(
        {
            "flowstone": "PostgresIOManager",
            "asset": asset,
            "partition_column": target.partition_column,
            "tenant_column": target.tenant_column,
        }
    )
    statements = [
        f"CREATE TABLE {target.qualified} (\n    " + ",\n    ".join(defs) + "\n)",
        f"COMMENT ON TABLE {target.qualified} IS {_literal(comment)}",
    ]
    if target.tenant_column is not None:
        statements.extend(
            tenant_policy_sql(target.table, schema=target.schema, column=target.tenant_column)
        )
    return statements


def create_partitions_table(schema: str) -> list[str]:
    """Return the statements creating the schema's bookkeeping table, tenant-confined."""
    qualified = f'"{schema}"."{PARTITIONS_TABLE}"'
    return [
        f"""CREATE TABLE IF NOT EXISTS {qualified} (
    table_name    text COLLATE "C" NOT NULL,
    partition_key text COLLATE "C" NOT NULL,
    tenant        text COLLATE "C",
    kind          text NOT NULL,
    arrow_schema  bytea,
    row_count     bigint NOT NULL,
    run_id        text NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_key)
)""",
        # Rows of assets without a tenant dimension have a NULL tenant and stay visible to
        # all; a tenant's rows only to that tenant (same setting as the asset tables).
        f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY",
        f'DROP POLICY IF EXISTS "flowstone_tenant" ON {qualified}',
        f"""CREATE POLICY "flowstone_tenant" ON {qualified}
    USING (tenant IS NULL OR tenant = current_setting('flowstone.tenant', true))
    WITH CHECK (tenant IS NULL OR tenant = current_setting('flowstone.tenant', true))""",
    ]


def _literal(text: str) -> str:
    # COMMENT ON takes no parameters: a standard-conforming string literal, quotes doubled.
    return "'" + text.replace("'", "''") + "'"


def where_partition(target: Target, first_parameter: int = 1) -> str:
    """The WHERE clause selecting this partition's rows (or every row, unpartitioned)."""
    if target.partition_column is None:
        return ""
    return f' WHERE "{target.partition_column}" = ${first_parameter}'


def partition_args(target: Target) -> tuple[Any, ...]:
    """The parameters of ``where_partition``."""
    return () if target.partition_column is None else (target.partition_key,)


async def delete_rows(conn: asyncpg.Connection, target: Target) -> int:
    """Delete the partition's rows; return how many there were."""
    status = await conn.execute(
        f"DELETE FROM {target.qualified}{where_partition(target)}", *partition_args(target)
    )
    return int(str(status).rsplit(" ", 1)[-1])


def layout_values(target: Target, rows: int) -> list[tuple[str, list[Any]]]:
    """FlowStone's columns of the rows to insert, by name."""
    found: list[tuple[str, list[Any]]] = []
    if target.partition_column is not None:
        found.append((target.partition_column, [target.partition_key] * rows))
    if target.tenant_column is not None:
        found.append((target.tenant_column, [target.tenant] * rows))
    found.append((ROW_COLUMN, list(range(rows))))
    return found


async def copy_rows(
    conn: asyncpg.Connection, target: Target, columns: Sequence[tuple[str, list[Any]]]
) -> None:
    """Bulk-insert with COPY (binary); for tables without row-level security."""
    names = [name for name, _ in columns]
    records = zip(*(values for _, values in columns), strict=True)
    await conn.copy_records_to_table(
        target.table, schema_name=target.schema, columns=names, records=records
    )


async def insert_rows(
    conn: asyncpg.Connection,
    target: Target,
    columns: Sequence[tuple[str, list[Any]]],
    types: dict[str, str],
) -> None:
    """Bulk-insert with ``INSERT ... SELECT FROM unnest($1::t[], ...)``, a batch of rows per
    statement. Used for tables under row-level security, where PostgreSQL refuses
    ``COPY FROM`` ("COPY FROM not supported with row-level security")."""
    names = ", ".join(f'"{name}"' for name, _ in columns)
    arrays = ", ".join(f"${i}::{types[name]}[]" for i, (name, _) in enumerate(columns, 1))
    text = f"INSERT INTO {target.qualified} ({names}) SELECT * FROM unnest({arrays})"
    total = len(columns[0][1]) if columns else 0
    for start in range(0, total, INSERT_BATCH):
        await conn.execute(text, *(v[start : start + INSERT_BATCH] for _, v in columns))


async def fetch_columns(
    conn: asyncpg.Connection, target: Target, names: Sequence[str]
) -> dict[str, list[Any]]:
    """Fetch the partition's value columns in stored row order, column by column."""
    if not names:
        return {}
    selected = ", ".join(f'"{name}"' for name in names)
    rows = await conn.fetch(
        f"SELECT {selected} FROM {target.qualified}{where_partition(target)} "
        f'ORDER BY "{ROW_COLUMN}"',
        *partition_args(target),
    )
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


async def record_partition(
    conn: asyncpg.Connection,
    target: Target,
    kind: str,
    arrow_schema: bytes | None,
    rows: int,
    run_id: str,
) -> None:
    """Upsert the partition's bookkeeping row."""
    await conn.execute(
        f"""INSERT INTO {target.partitions_table}
                (table_name, partition_key, tenant, kind, arrow_schema, row_count, run_id,
                 stored_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, now())
            ON CONFLICT (table_name, partition_key) DO UPDATE SET
                tenant = EXCLUDED.tenant, kind = EXCLUDED.kind,
                arrow_schema = EXCLUDED.arrow_schema, row_count = EXCLUDED.row_count,
                run_id = EXCLUDED.run_id, stored_at = EXCLUDED.stored_at""",
        target.table,
        target.key,
        target.tenant,
        kind,
        arrow_schema,
        rows,
        run_id,
    )


async def stored_partition(conn: asyncpg.Connection, target: Target) -> asyncpg.Record | None:
    """Return the partition's bookkeeping row (kind, arrow_schema, row_count), if any."""
    if not await partitions_table_exists(conn, target.schema):
        return None
    return await conn.fetchrow(
        f"SELECT kind, arrow_schema, row_count FROM {target.partitions_table} "
        "WHERE table_name = $1 AND partition_key = $2",
        target.table,
        target.key,
    )


async def partitions_table_exists(conn: asyncpg.Connection, schema: str) -> bool:
    """Return whether the schema has its bookkeeping table (checked without privileges on
    it, and without an error that would abort the caller's transaction)."""
    return await describe(conn, schema, PARTITIONS_TABLE) is not None


async def forget_partition(conn: asyncpg.Connection, target: Target) -> None:
    """Delete the partition's bookkeeping row."""
    await conn.execute(
        f"DELETE FROM {target.partitions_table} WHERE table_name = $1 AND partition_key = $2",
        target.table,
        target.key,
    )
