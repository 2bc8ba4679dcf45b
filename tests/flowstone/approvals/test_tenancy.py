"""Tenants: a gate records the acting tenant, and the record store's row-level security
policies, applied to the approvals tables, confine a tenant role to its own gates."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from flowstone.approvals import ApprovalsWing, app_role_grants_sql
from flowstone.engine._gate import Wait
from flowstone.storage import ApprovalRecord, MemoryStorage
from flowstone.tenancy import record_store_policy_sql, tenant_scope
from tests.flowstone.approvals.gates import Clock, reach, report_pipeline
from tests.flowstone.storage.approval_contract import approval, entry
from tests.pg import ADMIN_URL, database_of, fresh_database, url_for


@pytest.fixture
def pg() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def _tenant(record: ApprovalRecord, tenant: str | None) -> ApprovalRecord:
    return dataclasses.replace(record, tenant=tenant)


@pytest.mark.postgres
async def test_a_tenant_role_sees_only_its_own_gates_and_audit_rows(pg: str) -> None:
    from flowstone.storage import PostgresStorage

    acme, globex = _tenant(approval("r1"), "acme"), _tenant(approval("r2"), "globex")
    async with PostgresStorage(pg) as owner:
        for record in (acme, globex):
            await owner.approvals.request(
                record, [dataclasses.replace(entry(record, "requested"), tenant=record.tenant)]
            )
    role = f"fs_tenant_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app'")
        for statement in (
            *app_role_grants_sql(role),
            f"GRANT SELECT ON flowstone.schema_version TO {role}",
            *record_store_policy_sql(tables=("approvals", "approval_audit"), shared_rows=False),
        ):
            await admin.execute(statement)
        url = url_for(database_of(pg), ADMIN_URL.replace("postgres@", f"{role}:app@"))
        async with PostgresStorage(url) as confined, tenant_scope("acme"):
            assert [r.run_id for r in await confined.approvals.list_approvals()] == ["r1"]
            assert await confined.approvals.get(globex.id) is None
            assert [e.run_id for e in await confined.approvals.audit()] == ["r1"]
        async with PostgresStorage(pg) as owner:
            assert len(await owner.approvals.list_approvals()) == 2
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


async def test_a_gate_reached_in_a_tenant_scope_records_that_tenant() -> None:
    storage = MemoryStorage()
    wing = ApprovalsWing(report_pipeline(), storage, now=Clock(), timer_interval=None)
    async with tenant_scope("acme"):
        outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(outcome, Wait)
    record = await storage.approvals.get(outcome.approval_id)
    assert record is not None
    assert record.tenant == "acme"
    assert [e.tenant for e in await storage.approvals.audit()] == ["acme"]
