"""tenant_scope and current_tenant, and the policy SQL (no database needed)."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from flowstone.errors import ConfigurationError, TenantIsolationError
from flowstone.tenancy import (
    current_tenant,
    record_store_policy_sql,
    record_store_tenant_columns_sql,
    tenant_policy_sql,
    tenant_scope,
)


def test_no_tenant_is_current_outside_any_scope() -> None:
    assert current_tenant() is None


def test_a_scope_sets_the_tenant_for_its_block_only() -> None:
    with tenant_scope("acme") as scope:
        assert current_tenant() == "acme"
        assert repr(scope) == "<TenantScope 'acme' active>"
    assert current_tenant() is None
    assert repr(scope) == "<TenantScope 'acme'>"


async def test_an_async_scope_sets_the_tenant_for_its_block_only() -> None:
    async with tenant_scope("acme"):
        assert current_tenant() == "acme"
    assert current_tenant() is None


def test_a_scope_ends_even_when_its_block_raises() -> None:
    with pytest.raises(RuntimeError), tenant_scope("acme"):
        raise RuntimeError("boom")
    assert current_tenant() is None


def test_scopes_nest_for_the_same_tenant_and_the_same_scope_object() -> None:
    scope = tenant_scope("acme")
    with scope, tenant_scope("acme"), scope:
        assert current_tenant() == "acme"
    assert current_tenant() is None


def test_a_scope_cannot_switch_to_another_tenant() -> None:
    with tenant_scope("acme"):
        with pytest.raises(TenantIsolationError) as raised, tenant_scope("beta"):
            pass  # never reached
        assert current_tenant() == "acme"

    assert str(raised.value) == (
        "cannot enter tenant_scope('beta'): this code already acts for tenant 'acme', and a "
        "scope cannot switch tenants; leave the 'acme' scope first"
    )
    assert (raised.value.tenant, raised.value.owner) == ("acme", "beta")
    assert isinstance(raised.value, PermissionError)


async def test_tasks_started_in_a_scope_act_for_its_tenant_and_others_do_not() -> None:
    async def tenant_seen() -> str | None:
        await asyncio.sleep(0)
        return current_tenant()

    outside = asyncio.create_task(tenant_seen())
    async with tenant_scope("acme"):
        inside = asyncio.create_task(tenant_seen())
        concurrent = [tenant_seen() for _ in range(3)]
        assert await asyncio.gather(*concurrent) == ["acme"] * 3

    assert await inside == "acme"
    assert await outside is None


@pytest.mark.parametrize("tenant", [None, "", "a\x00b", 5])
def test_a_tenant_must_be_a_non_empty_string(tenant: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^a tenant must be a non-empty string"):
        tenant_scope(tenant)  # type: ignore[arg-type]


def test_tenant_isolation_errors_pickle_with_their_fields() -> None:
    error = TenantIsolationError("no", tenant="acme", owner="beta")

    copy = pickle.loads(pickle.dumps(error))

    assert (str(copy), copy.tenant, copy.owner) == ("no", "acme", "beta")


def test_the_policy_sql_confines_a_table_to_the_current_tenant() -> None:
    assert tenant_policy_sql("orders", schema="app") == (
        'ALTER TABLE "app"."orders" ENABLE ROW LEVEL SECURITY',
        'ALTER TABLE "app"."orders" FORCE ROW LEVEL SECURITY',
        'DROP POLICY IF EXISTS "flowstone_tenant" ON "app"."orders"',
        'CREATE POLICY "flowstone_tenant" ON "app"."orders" '
        "USING (\"tenant\" = current_setting('flowstone.tenant', true)) "
        "WITH CHECK (\"tenant\" = current_setting('flowstone.tenant', true))",
        'DROP POLICY IF EXISTS "flowstone_tenant_shared" ON "app"."orders"',
    )


def test_the_record_store_policies_leave_the_owner_free_and_share_tenantless_rows() -> None:
    statements = record_store_policy_sql("flowstone", tables=("runs",))

    assert 'ALTER TABLE "flowstone"."runs" NO FORCE ROW LEVEL SECURITY' in statements
    assert statements[-1] == (
        'CREATE POLICY "flowstone_tenant_shared" ON "flowstone"."runs" FOR SELECT '
        'USING ("tenant" IS NULL)'
    )
    assert record_store_tenant_columns_sql("flowstone", tables=("runs",)) == (
        'ALTER TABLE "flowstone"."runs" ADD COLUMN IF NOT EXISTS "tenant" text',
        'CREATE INDEX IF NOT EXISTS "runs_by_tenant" ON "flowstone"."runs" ("tenant")',
    )


@pytest.mark.parametrize("name", ['orders"; DROP TABLE x; --', "a b", "x" * 64])
def test_the_policy_sql_refuses_names_that_are_not_plain_identifiers(name: str) -> None:
    for arguments in (
        {"table": name},
        {"table": "t", "schema": name},
        {"table": "t", "column": name},
    ):
        with pytest.raises(ConfigurationError, match="is not a plain SQL identifier"):
            tenant_policy_sql(**arguments)
