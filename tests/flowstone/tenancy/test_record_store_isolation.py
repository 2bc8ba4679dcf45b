"""Tenant isolation of FlowStone's own records, end to end.

A runtime connected as the owner of the record tables records two tenants' runs (and a
shared asset) through the real ``PostgresStorage``, with the policies of
``record_store_policy_sql`` enabled. Then an application role (no superuser, no BYPASSRLS)
reads and writes the same tables: by hand-written SQL with ``flowstone.tenant`` set, and
through ``PostgresStorage`` inside ``tenant_scope``. It sees acme's records and the shared
ones, never beta's, and cannot change beta's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

import flowstone as fs
from flowstone.errors import StorageError
from flowstone.storage import LineageEntry, PostgresStorage, RunLogLine
from flowstone.tenancy import POLICY_TABLES, record_store_policy_sql, tenant_scope
from tests.flowstone.storage.records import batch, mat, run
from tests.pg import ADMIN_URL, database_of, run_sync

from .conftest import Role, as_user

pytestmark = pytest.mark.postgres

ACME = "tenant=acme|date=2024-01-01"
ACME_2 = "tenant=acme|date=2024-01-02"
BETA = "tenant=beta|date=2024-01-01"
BETA_2 = "tenant=beta|date=2024-01-02"


@dataclass(frozen=True)
class Store:
    """Roles of a database whose record store (schema ``flowstone``) holds both tenants."""

    owner: Role
    app: Role


def shop() -> fs.Pipeline:
    """Two shared assets (a currency and its rates) and orders partitioned by tenant and day."""
    pipeline = fs.Pipeline("shop")
    by_tenant = fs.MultiPartitions(
        {
            "tenant": fs.StaticPartitions(["acme", "beta"]),
            "date": fs.DailyPartitions(start="2024-01-01"),
        }
    )

    @pipeline.asset(io_manager="memory")
    def currency(context: Any) -> str:
        return "eur"

    @pipeline.asset(depends_on=["currency"], io_manager="memory")
    def rates(context: Any, currency: str) -> dict[str, float]:
        context.log.info("rates for %s", currency)
        return {currency: 1.0}

    @pipeline.asset(partitioned_by=by_tenant, depends_on=["rates"], io_manager="memory")
    def orders(context: Any, rates: dict[str, float]) -> list[float]:
        context.log.info("orders of %s", context.partition_key)
        return [3 * rates["eur"]]

    return pipeline


def log_line(run_id: str, tenant: str) -> RunLogLine:
    return RunLogLine(run_id, 1, datetime.now(UTC), "INFO", "shop", "hello", tenant=tenant)


async def admin_execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def prepare_store(owner: Role, app: Role, schema: str = "flowstone") -> None:
    """Create the record store as its owner, enable the tenant policies, let ``app`` in."""
    async with PostgresStorage(owner.url, schema=schema):
        pass  # migrations
    await admin_execute(
        owner.url,
        *record_store_policy_sql(schema),
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{app.name}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{app.name}"',
    )


@pytest.fixture(scope="module")
def store(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tag = uuid.uuid4().hex[:12]
    owner, app = (
        Role(name, as_user(pg_url, name)) for name in (f"fs_owner_{tag}", f"fs_app_{tag}")
    )
    run_sync(
        lambda: admin_execute(
            ADMIN_URL,
            f'CREATE ROLE "{owner.name}" LOGIN NOSUPERUSER NOBYPASSRLS',
            f'CREATE ROLE "{app.name}" LOGIN NOSUPERUSER NOBYPASSRLS',
            f'GRANT CREATE ON DATABASE "{database_of(pg_url)}" TO "{owner.name}"',
        )
    )
    try:
        run_sync(lambda: prepare_store(owner, app))
        base_dir = tmp_path_factory.mktemp("runtime")
        with fs.Runtime(shop(), storage=owner.url, base_dir=base_dir) as rt:
            rt.materialize_all("rates")  # outside any scope: shared records
            for tenant, keys in (("acme", (ACME, ACME_2)), ("beta", (BETA, BETA_2))):
                with tenant_scope(tenant):
                    for key in keys:
                        rt.materialize("orders", key)
        yield Store(owner, app)
    finally:
        run_sync(lambda: admin_execute(pg_url, f'DROP OWNED BY "{owner.name}", "{app.name}"'))
        run_sync(
            lambda: admin_execute(ADMIN_URL, f'DROP ROLE "{app.name}"', f'DROP ROLE "{owner.name}"')
        )


async def execute_as(conn: asyncpg.Connection, tenant: str, statement: str) -> str:
    """Run one statement in a transaction acting for ``tenant``."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('flowstone.tenant', $1, true)", tenant)
        return str(await conn.execute(statement))


async def tenants_per_table(conn: asyncpg.Connection, schema: str = "flowstone") -> dict[str, Any]:
    found = {}
    for table in POLICY_TABLES:
        rows = await conn.fetch(f"SELECT tenant FROM {schema}.{table} ORDER BY tenant NULLS LAST")
        found[table] = [row["tenant"] for row in rows]
    return found


EVERY_RECORD = {
    "runs": ["acme", "acme", "beta", "beta", None],
    "materializations": ["acme", "acme", "beta", "beta", None, None],
    "materialization_inputs": ["acme", "acme", "beta", "beta", None],
    "asset_partitions": ["acme", "acme", "beta", "beta", None, None],
    "run_logs": ["acme", "acme", "beta", "beta", None],
}


async def test_the_runtime_recorded_each_tenants_records_under_its_tenant(store: Store) -> None:
    conn = await asyncpg.connect(store.owner.url)
    try:
        assert await tenants_per_table(conn) == EVERY_RECORD
    finally:
        await conn.close()


async def test_hand_written_sql_as_acme_sees_acmes_records_and_the_shared_ones_only(
    store: Store,
) -> None:
    conn = await asyncpg.connect(store.app.url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('flowstone.tenant', 'acme', true)")
            as_acme = await tenants_per_table(conn)
            assets = await conn.fetch(
                "SELECT asset, partition FROM flowstone.materializations "
                "ORDER BY asset, partition NULLS FIRST"
            )
        without_tenant = await tenants_per_table(conn)
    finally:
        await conn.close()

    assert as_acme == {
        "runs": ["acme", "acme", None],
        "materializations": ["acme", "acme", None, None],
        "materialization_inputs": ["acme", "acme", None],
        "asset_partitions": ["acme", "acme", None, None],
        "run_logs": ["acme", "acme", None],
    }
    assert [tuple(r) for r in assets] == [
        ("currency", None),
        ("orders", ACME),
        ("orders", ACME_2),
        ("rates", None),
    ]
    # No tenant set: nothing that belongs to a tenant, only the shared records.
    assert without_tenant == {
        "runs": [None],
        "materializations": [None, None],
        "materialization_inputs": [None],
        "asset_partitions": [None, None],
        "run_logs": [None],
    }


async def test_acme_can_neither_change_nor_delete_betas_or_the_shared_records(
    store: Store,
) -> None:
    conn = await asyncpg.connect(store.app.url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('flowstone.tenant', 'acme', true)")
            results = [
                await conn.execute(
                    "UPDATE flowstone.runs SET status = 'failed' WHERE tenant = 'beta'"
                ),
                await conn.execute(
                    "UPDATE flowstone.runs SET status = 'failed' WHERE tenant IS NULL"
                ),
                await conn.execute("DELETE FROM flowstone.materializations WHERE tenant = 'beta'"),
                await conn.execute("DELETE FROM flowstone.materializations WHERE tenant IS NULL"),
                await conn.execute(
                    "DELETE FROM flowstone.materialization_inputs WHERE tenant = 'beta'"
                ),
                await conn.execute(
                    "UPDATE flowstone.asset_partitions SET latest_status = 'failed' "
                    "WHERE tenant IS DISTINCT FROM 'acme'"
                ),
            ]
    finally:
        await conn.close()

    assert results == ["UPDATE 0", "UPDATE 0", "DELETE 0", "DELETE 0", "DELETE 0", "UPDATE 0"]
    owner = await asyncpg.connect(store.owner.url)
    try:
        assert await tenants_per_table(owner) == EVERY_RECORD
    finally:
        await owner.close()


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(
            "INSERT INTO flowstone.runs (run_id, pipeline, kind, targets, status, started_at, "
            "triggered_by, trigger, metadata, tenant) VALUES ('forged', 'shop', 'materialize', "
            "'[]', 'succeeded', now(), 'mallory', 'manual', '{}', 'beta')",
            id="a run for beta",
        ),
        pytest.param(
            "INSERT INTO flowstone.materialization_inputs (materialization_id, position, "
            "upstream_asset, upstream_pkey, tenant) SELECT id, 9, 'rates', '', 'beta' "
            "FROM flowstone.materializations WHERE tenant = 'acme' LIMIT 1",
            id="an input for beta",
        ),
        pytest.param(
            "UPDATE flowstone.materializations SET tenant = 'beta' WHERE tenant = 'acme'",
            id="acme's records handed to beta",
        ),
        pytest.param(
            "UPDATE flowstone.asset_partitions SET tenant = NULL WHERE tenant = 'acme'",
            id="acme's partitions made shared",
        ),
    ],
)
async def test_acme_cannot_write_records_that_are_not_acmes(store: Store, statement: str) -> None:
    conn = await asyncpg.connect(store.app.url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await execute_as(conn, "acme", statement)
    finally:
        await conn.close()


async def test_the_store_opened_as_the_app_role_inside_acmes_scope_returns_acmes_records(
    store: Store,
) -> None:
    async with tenant_scope("acme"), PostgresStorage(store.app.url, pipeline="shop") as storage:
        records = await storage.materializations()
        orders = await storage.materializations(asset="orders")
        latest = await storage.latest("orders", [ACME, BETA, ACME_2, BETA_2])
        latest_any = await storage.latest("orders", [ACME, BETA], status=None)
        latest_then = await storage.latest("orders", [ACME, BETA], as_of=records[0].finished_at)
        statuses = await storage.latest_statuses("orders")
        counts = await storage.status_counts("orders")
        upstream = await storage.upstream("orders", ACME)
        upstream_of_beta = await storage.upstream("orders", BETA)
        downstream = await storage.downstream("currency", None)
        runs = await storage.list_runs()

    assert sorted((r.asset, r.partition or "", r.tenant or "") for r in records) == [
        ("currency", "", ""),
        ("orders", ACME, "acme"),
        ("orders", ACME_2, "acme"),
        ("rates", "", ""),
    ]
    assert [r.partition for r in orders] == [ACME_2, ACME]
    assert sorted(k or "" for k in latest) == [ACME, ACME_2]
    assert list(latest_any) == list(latest_then) == [ACME]
    assert statuses == {ACME: "succeeded", ACME_2: "succeeded"}
    assert counts == {"succeeded": 2}
    ids = {(r.asset, r.partition): r.id for r in records}
    assert upstream == [
        LineageEntry("rates", None, 1, ids[("rates", None)]),
        LineageEntry("currency", None, 2, ids[("currency", None)]),
    ]
    assert upstream_of_beta == []
    assert [(e.asset, e.partition, e.depth) for e in downstream] == [
        ("rates", None, 1),
        ("orders", ACME, 2),
        ("orders", ACME_2, 2),
    ]
    assert sorted(r.tenant or "" for r in runs) == ["", "acme", "acme"]


async def test_outside_a_scope_the_app_roles_store_sees_only_shared_records(store: Store) -> None:
    async with PostgresStorage(store.app.url, pipeline="shop") as storage:
        records = await storage.materializations()
        runs = await storage.list_runs()
        latest = await storage.latest("orders", [ACME, BETA])
        upstream = await storage.upstream("orders", ACME)

    assert sorted((r.asset, r.tenant) for r in records) == [("currency", None), ("rates", None)]
    assert [r.tenant for r in runs] == [None]
    assert latest == {}
    assert upstream == []


async def test_a_scopes_tenant_does_not_outlive_the_call_on_the_pooled_connection(
    store: Store,
) -> None:
    async with PostgresStorage(store.app.url, min_size=1, max_size=1, pipeline="shop") as storage:
        async with tenant_scope("beta"):
            as_beta = await storage.materializations(asset="orders")
        afterwards = await storage.materializations(asset="orders")

    assert [r.partition for r in as_beta] == [BETA_2, BETA]
    assert afterwards == []


@pytest.fixture
async def fresh(store: Store) -> str:
    """An empty record store of its own (schema), prepared like the module's."""
    schema = f"records_{uuid.uuid4().hex[:12]}"
    await prepare_store(store.owner, store.app, schema)
    return schema


async def test_in_its_scope_the_app_role_records_its_own_records_but_no_others(
    store: Store, fresh: str
) -> None:
    own = batch(run("r-acme", tenant="acme"), mat("orders", ACME, run="r-acme", tenant="acme"))
    async with PostgresStorage(store.app.url, schema=fresh) as storage:
        async with tenant_scope("acme"):
            await storage.write(own)
            await storage.write(own)  # replays are upserts under the policy too
            with pytest.raises(StorageError, match=r"scope\('acme'\) but with no tenant set"):
                await storage.write(batch(mat("orders", BETA, tenant="beta")))
            with pytest.raises(StorageError, match=r"new row violates row-level security"):
                await storage.write(batch(mat("rates", ACME, tenant="acme"), mat("rates")))
        with pytest.raises(StorageError, match=r"no tenant set \(outside any tenant_scope\)"):
            await storage.write(batch(mat("rates", ACME, tenant="acme")))
        async with tenant_scope("acme"):
            await storage.append_run_logs([log_line("r-acme", "acme")])
            with pytest.raises(StorageError, match=r"row-level security"):
                await storage.append_run_logs([log_line("r-beta", "beta")])

    conn = await asyncpg.connect(store.owner.url)
    try:
        assert await tenants_per_table(conn, fresh) == {
            "runs": ["acme"],
            "materializations": ["acme"],
            "materialization_inputs": [],
            "asset_partitions": ["acme"],
            "run_logs": ["acme"],
        }
    finally:
        await conn.close()


async def test_the_owner_commits_many_tenants_records_at_once_even_inside_a_scope(
    store: Store, fresh: str
) -> None:
    # The lineage writer's group commit: it acts for every tenant. A writer that happens to
    # run inside a tenant scope (a runtime started in one) must still be able to write.
    group = batch(
        run("r-acme", tenant="acme"),
        run("r-beta", tenant="beta"),
        mat("rates"),
        mat("orders", ACME, inputs=[("rates", None)], tenant="acme"),
        mat("orders", BETA, inputs=[("rates", None)], tenant="beta"),
    )
    async with PostgresStorage(store.owner.url, schema=fresh) as storage:
        async with tenant_scope("acme"):
            await storage.write(group)
            await storage.write(batch(mat("report", BETA, tenant="beta")))
        written = await storage.materializations()

    assert sorted((r.asset, r.tenant or "") for r in written) == [
        ("orders", "acme"),
        ("orders", "beta"),
        ("rates", ""),
        ("report", "beta"),
    ]
