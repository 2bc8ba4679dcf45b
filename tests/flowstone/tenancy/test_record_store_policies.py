"""The tenant policies on FlowStone's own record tables: the owner (the runtime's lineage
writer, committing many tenants' records in one transaction) is not confined; any other role
sees and writes only its tenant's records, plus the records of assets without a tenant."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest

from flowstone.storage._migrations import MIGRATIONS
from flowstone.tenancy import (
    RECORD_TABLES,
    record_store_policy_sql,
    record_store_tenant_columns_sql,
    set_tenant,
)
from tests.pg import database_of

from .conftest import Role

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class RecordStore:
    schema: str
    owner: Role
    reader: Role


async def write_records(conn: asyncpg.Connection, schema: str, tenant: str | None) -> None:
    """One run with one materialization that read one input, as the lineage writer would."""
    name = tenant or "shared"
    pkey = f"~tenant={tenant}|date=2024-01-01" if tenant else ""
    await conn.execute(
        f"""INSERT INTO {schema}.runs (run_id, pipeline, kind, targets, status, started_at,
                triggered_by, trigger, metadata, tenant)
            VALUES ($1, 'p', 'materialize', '[]', 'succeeded', now(), 'test', 'manual', '{{}}',
                $2)""",
        f"run-{name}",
        tenant,
    )
    await conn.execute(
        f"""INSERT INTO {schema}.materializations (id, run_id, asset, pkey, attempt, status,
                started_at, event_at, triggered_by, trigger, inputs, metadata, tenant)
            VALUES ($1, $2, 'orders', $3, 1, 'succeeded', now(), now(), 'test', 'manual',
                $4, '{{}}', $5)""",
        f"mat-{name}",
        f"run-{name}",
        pkey,
        json.dumps([["raw", pkey]]),
        tenant,
    )
    await conn.execute(
        f"""INSERT INTO {schema}.materialization_inputs (materialization_id, position,
                upstream_asset, upstream_pkey, tenant)
            VALUES ($1, 0, 'raw', $2, $3)""",
        f"mat-{name}",
        pkey,
        tenant,
    )
    await conn.execute(
        f"""INSERT INTO {schema}.asset_partitions (asset, pkey, latest_id, latest_status,
                latest_at, tenant)
            VALUES ('orders', $1, $2, 'succeeded', now(), $3)""",
        pkey,
        f"mat-{name}",
        tenant,
    )


@pytest.fixture
async def store(pg_url: str, make_role: Callable[[str], Awaitable[Role]]) -> RecordStore:
    """A record store created and written by a non-superuser owner, read by another role."""
    schema = f"records_{uuid.uuid4().hex[:12]}"
    owner, reader = await make_role("owner"), await make_role("app")
    admin = await asyncpg.connect(pg_url)
    try:
        await admin.execute(f'GRANT CREATE ON DATABASE "{database_of(pg_url)}" TO "{owner.name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(owner.url)
    try:
        async with conn.transaction():
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            for migration in MIGRATIONS:
                for statement in migration.postgres:
                    await conn.execute(statement.format(s=f'"{schema}"'))
            for _ in range(2):  # the statements are idempotent
                for statement in record_store_tenant_columns_sql(schema):
                    await conn.execute(statement)
                for statement in record_store_policy_sql(schema):
                    await conn.execute(statement)
            await conn.execute(
                f'GRANT USAGE ON SCHEMA "{schema}" TO "{reader.name}"; GRANT SELECT, INSERT, '
                f'UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{reader.name}"'
            )
        async with conn.transaction():  # one group commit holding every tenant's records
            for tenant in ("acme", "beta", None):
                await write_records(conn, schema, tenant)
    finally:
        await conn.close()
    return RecordStore(schema, owner, reader)


def each_table(tenants: list[str | None]) -> dict[str, list[str | None]]:
    return {table: list(tenants) for table in RECORD_TABLES}


async def write_as(conn: asyncpg.Connection, tenant: str, schema: str, records_of: str) -> None:
    async with conn.transaction():
        await set_tenant(conn, tenant)
        await write_records(conn, schema, records_of)


async def tenants_per_table(conn: asyncpg.Connection, schema: str) -> dict[str, list[str | None]]:
    found = {}
    for table in RECORD_TABLES:
        rows = await conn.fetch(f"SELECT tenant FROM {schema}.{table} ORDER BY tenant NULLS LAST")
        found[table] = [row["tenant"] for row in rows]
    return found


async def test_the_owner_reads_every_tenants_records(store: RecordStore) -> None:
    conn = await asyncpg.connect(store.owner.url)
    try:
        seen = await tenants_per_table(conn, store.schema)
    finally:
        await conn.close()

    assert seen == each_table(["acme", "beta", None])


async def test_a_tenant_reads_its_records_and_the_shared_ones_only(store: RecordStore) -> None:
    conn = await asyncpg.connect(store.reader.url)
    try:
        async with conn.transaction():
            await set_tenant(conn, "acme")
            as_acme = await tenants_per_table(conn, store.schema)
        without_tenant = await tenants_per_table(conn, store.schema)
    finally:
        await conn.close()

    assert as_acme == each_table(["acme", None])
    assert without_tenant == each_table([None])


async def test_a_tenant_cannot_write_or_change_another_tenants_records(
    store: RecordStore,
) -> None:
    schema = store.schema
    conn = await asyncpg.connect(store.reader.url)
    try:
        async with conn.transaction():
            await set_tenant(conn, "acme")
            results = [
                await conn.execute(
                    f"UPDATE {schema}.runs SET status = 'failed' WHERE tenant = 'beta'"
                ),
                await conn.execute(f"DELETE FROM {schema}.materializations WHERE tenant = 'beta'"),
                # Shared rows are readable, not writable.
                await conn.execute(f"DELETE FROM {schema}.asset_partitions WHERE tenant IS NULL"),
            ]
        assert results == ["UPDATE 0", "DELETE 0", "DELETE 0"]
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="violates row-level security"):
            await write_as(conn, "acme", schema, records_of="beta2")
    finally:
        await conn.close()

    owner = await asyncpg.connect(store.owner.url)
    try:
        assert await tenants_per_table(owner, schema) == each_table(["acme", "beta", None])
    finally:
        await owner.close()
