"""Tenant isolation of the Postgres I/O manager's tables, as an application role that is
neither a superuser nor exempt from row-level security: tenant A can neither read nor write
tenant B's rows, through the manager or through hand-written SQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

import flowstone as fs
from flowstone.errors import IOManagerError, TenantIsolationError
from flowstone.io import IOContext
from flowstone.io._postgres import PostgresIOManager
from flowstone.tenancy import current_tenant, set_tenant, tenant_scope

from .conftest import Role

pytestmark = pytest.mark.postgres

TENANTS = fs.MultiPartitions(
    {
        "tenant": fs.StaticPartitions(["acme", "beta", "gamma"]),
        "date": fs.DailyPartitions("2024-01-01"),
    }
)


def context(manager: PostgresIOManager, tenant: str, day: str = "2024-01-01") -> IOContext:
    key = TENANTS.validate({"tenant": tenant, "date": day})
    return IOContext(
        asset="orders",
        partition=key,
        partition_key=TENANTS.encode(key),
        run_id="run-1",
        options=manager.validate_options({}),
    )


ACME_ROWS = [{"item": "anvil", "amount": 3}, {"item": "rocket", "amount": 1}]
BETA_ROWS = [{"item": "secret", "amount": 99}]


@pytest.fixture
def schema() -> str:
    return f"app_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def app(pg_url: str, schema: str, make_role: Callable[[str], Awaitable[Role]]) -> Role:
    """An application role with DML rights on tables that the owner created and filled."""
    owner = PostgresIOManager(pg_url, schema=schema)
    try:
        await owner.store(context(owner, "acme"), ACME_ROWS)
        await owner.store(context(owner, "beta"), BETA_ROWS)
    finally:
        await owner.aclose()
    role = await make_role("app")
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            f'GRANT USAGE ON SCHEMA {schema} TO "{role.name}"; '
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} "
            f'TO "{role.name}"'
        )
    finally:
        await conn.close()
    return role


@pytest.fixture
async def manager(app: Role, schema: str) -> AsyncIterator[PostgresIOManager]:
    io = PostgresIOManager(app.url, schema=schema)
    yield io
    await io.aclose()


@pytest.fixture
async def conn(app: Role) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(app.url)
    yield connection
    await connection.close()


async def rows_as_superuser(pg_url: str, schema: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(pg_url)
    try:
        found = await conn.fetch(f"SELECT tenant, item, amount FROM {schema}.orders ORDER BY 1, 2")
    finally:
        await conn.close()
    return [tuple(row) for row in found]


async def execute_as(conn: asyncpg.Connection, tenant: str, statement: str) -> str:
    async with conn.transaction():
        await set_tenant(conn, tenant)
        return str(await conn.execute(statement))


# -- through the I/O manager -----------------------------------------------------------------


async def test_a_tenant_loads_its_partitions_and_is_refused_anothers(
    manager: PostgresIOManager,
) -> None:
    async with tenant_scope("acme"):
        assert await manager.load(context(manager, "acme")) == ACME_ROWS
        assert await manager.exists(context(manager, "acme"))
        with pytest.raises(TenantIsolationError) as raised:
            await manager.load(context(manager, "beta"))
        with pytest.raises(TenantIsolationError):
            await manager.exists(context(manager, "beta"))

    assert str(raised.value) == (
        "tenant 'acme' cannot reach asset 'orders' partition 'tenant=beta|date=2024-01-01': "
        "it belongs to tenant 'beta'. Code inside tenant_scope('acme') works on 'acme''s "
        "partitions only"
    )


async def test_a_tenant_cannot_store_or_delete_anothers_partitions(
    manager: PostgresIOManager, pg_url: str, schema: str
) -> None:
    before = await rows_as_superuser(pg_url, schema)

    async with tenant_scope("acme"):
        with pytest.raises(TenantIsolationError):
            await manager.store(context(manager, "beta"), [{"item": "forged", "amount": 0}])
        with pytest.raises(TenantIsolationError):
            await manager.store(
                context(manager, "beta", "2024-02-01"), [{"item": "x", "amount": 0}]
            )
        with pytest.raises(TenantIsolationError):
            await manager.delete(context(manager, "beta"))

    assert await rows_as_superuser(pg_url, schema) == before


async def test_outside_a_scope_the_manager_acts_as_each_partitions_tenant(
    manager: PostgresIOManager, pg_url: str, schema: str
) -> None:
    gamma = context(manager, "gamma")

    meta = await manager.store(gamma, [{"item": "glue", "amount": 5}])

    assert meta["tenant"] == "gamma"
    assert await manager.load(gamma) == [{"item": "glue", "amount": 5}]
    assert await manager.load(context(manager, "beta")) == BETA_ROWS
    assert ("gamma", "glue", 5) in await rows_as_superuser(pg_url, schema)


async def test_a_tenant_replaces_its_own_partition_under_row_level_security(
    manager: PostgresIOManager, pg_url: str, schema: str
) -> None:
    async with tenant_scope("acme"):
        await manager.store(context(manager, "acme"), [{"item": "spring", "amount": 7}])
        assert await manager.load(context(manager, "acme")) == [{"item": "spring", "amount": 7}]

    assert await rows_as_superuser(pg_url, schema) == [
        ("acme", "spring", 7),
        ("beta", "secret", 99),
    ]


async def test_a_role_that_bypasses_row_level_security_is_warned_about(
    pg_url: str, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    superuser = PostgresIOManager(pg_url, schema=schema)
    try:
        with caplog.at_level(logging.WARNING, logger="flowstone.io"):
            await superuser.store(context(superuser, "acme"), ACME_ROWS)
    finally:
        await superuser.aclose()

    assert "bypasses row-level security" in caplog.text


# -- hand-written SQL on the same connection settings ----------------------------------------


async def test_hand_written_sql_as_one_tenant_sees_only_its_rows(
    conn: asyncpg.Connection, schema: str
) -> None:
    async with conn.transaction():
        await set_tenant(conn, "acme")
        orders = await conn.fetch(f"SELECT tenant, item FROM {schema}.orders")
        stored = await conn.fetch(f"SELECT tenant FROM {schema}.flowstone_io_partitions")
        beta = await conn.fetch(f"SELECT * FROM {schema}.orders WHERE tenant = 'beta'")

    assert sorted(orders) == [("acme", "anvil"), ("acme", "rocket")]
    assert [row["tenant"] for row in stored] == ["acme"]
    assert beta == []


async def test_hand_written_sql_as_one_tenant_cannot_change_anothers_rows(
    conn: asyncpg.Connection, pg_url: str, schema: str
) -> None:
    before = await rows_as_superuser(pg_url, schema)

    async with conn.transaction():
        await set_tenant(conn, "acme")
        updated = await conn.execute(f"UPDATE {schema}.orders SET amount = 0 WHERE tenant = 'beta'")
        deleted = await conn.execute(f"DELETE FROM {schema}.orders WHERE tenant = 'beta'")
        forgotten = await conn.execute(
            f"DELETE FROM {schema}.flowstone_io_partitions WHERE tenant = 'beta'"
        )
    assert (updated, deleted, forgotten) == ("UPDATE 0", "DELETE 0", "DELETE 0")

    inserts = [
        f"INSERT INTO {schema}.orders (partition_key, tenant, flowstone_row, item, amount) "
        "VALUES ('tenant=beta|date=2024-01-01', 'beta', 9, 'forged', 1)",
        # Moving an own row to the other tenant is a write of a beta row too.
        f"UPDATE {schema}.orders SET tenant = 'beta' WHERE item = 'anvil'",
    ]
    for statement in inserts:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="violates row-level security"):
            await execute_as(conn, "acme", statement)

    assert await rows_as_superuser(pg_url, schema) == before


async def test_with_no_tenant_set_nothing_is_visible_or_writable(
    conn: asyncpg.Connection, schema: str
) -> None:
    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.orders") == 0
    async with conn.transaction():
        await set_tenant(conn)  # outside any scope: clears the setting
        assert current_tenant() is None
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.orders") == 0
        assert await conn.execute(f"DELETE FROM {schema}.orders") == "DELETE 0"
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="violates row-level security"):
        await conn.execute(
            f"INSERT INTO {schema}.orders (partition_key, tenant, flowstone_row, item, amount) "
            "VALUES ('k', 'acme', 0, 'x', 1)"
        )


async def test_the_tenant_setting_ends_with_its_transaction(
    conn: asyncpg.Connection, schema: str
) -> None:
    async with conn.transaction():
        await set_tenant(conn, "acme")
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.orders") == 2

    assert await conn.fetchval(f"SELECT count(*) FROM {schema}.orders") == 0
    with pytest.raises(TenantIsolationError, match=r"^set_tenant\(\) needs an open transaction"):
        await set_tenant(conn, "acme")


async def test_set_tenant_follows_the_scope_and_refuses_to_leave_it(
    conn: asyncpg.Connection, schema: str
) -> None:
    async with tenant_scope("acme"):
        async with conn.transaction():
            await set_tenant(conn)
            assert await conn.fetchval(f"SELECT count(*) FROM {schema}.orders") == 2
        with pytest.raises(TenantIsolationError, match=r"cannot set tenant 'beta' inside"):
            async with conn.transaction():
                await set_tenant(conn, "beta")


async def test_an_application_role_without_create_rights_is_told_which_grants_it_needs(
    manager: PostgresIOManager, schema: str
) -> None:
    ctx = IOContext(
        asset="brand_new",
        partition=None,
        partition_key=None,
        run_id="run-1",
        options=manager.validate_options({}),
    )

    with pytest.raises(IOManagerError) as raised:
        await manager.store(ctx, [{"x": 1}])

    assert str(raised.value).startswith(
        f"cannot store asset 'brand_new' in {schema}.brand_new: permission denied for schema "
        f"{schema}. The role connecting through postgresql://fs_app_"
    )
    assert "needs USAGE (and CREATE, to create tables)" in str(raised.value)
