"""The audit trail is append-only by the database's own rules: UPDATE and DELETE fail on
SQLite and PostgreSQL, for the owner and for an application role granted INSERT and SELECT
only; a decided approval cannot be changed either."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from flowstone.approvals import ApprovalsWing, app_role_grants_sql
from flowstone.engine._gate import Wait
from flowstone.storage import SQLiteStorage, Storage
from tests.flowstone.approvals.gates import Clock, reach, report_pipeline
from tests.pg import ADMIN_URL, database_of, fresh_database, url_for


async def _decided_gate(storage: Storage) -> str:
    wing = ApprovalsWing(report_pipeline(), storage, now=Clock(), timer_interval=None)
    outcome = await wing.gatekeeper.reached(reach(wing.pipeline, "run-1"))
    assert isinstance(outcome, Wait)
    await wing.approvals.approve(outcome.approval_id, by="alice")
    return outcome.approval_id


async def test_sqlite_refuses_update_and_delete_on_the_audit_table(tmp_path: Path) -> None:
    path = tmp_path / "flowstone.db"
    async with SQLiteStorage(path) as storage:
        approval_id = await _decided_gate(storage)
    conn = sqlite3.connect(path)
    try:
        for statement in (
            "UPDATE approval_audit SET actor = 'mallory'",
            "DELETE FROM approval_audit",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="approval_audit is append-only"):
                conn.execute(statement)
        with pytest.raises(sqlite3.IntegrityError, match="a decided approval is final"):
            conn.execute("UPDATE approvals SET status = 'rejected' WHERE id = ?", (approval_id,))
        conn.execute(
            "INSERT INTO approval_audit (id, event, actor, at, asset, pkey, detail) "
            "VALUES ('x', 'note', 'alice', 0, 'gate', '', '{}')"
        )
        assert conn.execute("SELECT count(*) FROM approval_audit").fetchone()[0] == 3
    finally:
        conn.close()


@pytest.fixture
async def pg_store() -> AsyncIterator[str]:
    with fresh_database() as url:
        yield url


@pytest.mark.postgres
async def test_postgres_refuses_update_delete_and_truncate_for_the_owner_and_an_app_role(
    pg_store: str,
) -> None:
    from flowstone.storage import PostgresStorage

    async with PostgresStorage(pg_store) as storage:
        approval_id = await _decided_gate(storage)
    role = f"fs_app_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_store)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app'")
        for statement in app_role_grants_sql(role):
            await admin.execute(statement)
        for statement in (
            "UPDATE flowstone.approval_audit SET actor = 'mallory'",
            "DELETE FROM flowstone.approval_audit",
            "TRUNCATE flowstone.approval_audit",
        ):
            with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
                await admin.execute(statement)
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="is final"):
            await admin.execute(
                "UPDATE flowstone.approvals SET status = 'rejected' WHERE id = $1", approval_id
            )
        app_url = url_for(database_of(pg_store), ADMIN_URL.replace("postgres@", f"{role}:app@"))
        app = await asyncpg.connect(app_url)
        try:
            for statement in (
                "UPDATE flowstone.approval_audit SET actor = 'mallory'",
                "DELETE FROM flowstone.approval_audit",
                "TRUNCATE flowstone.approval_audit",
                "DELETE FROM flowstone.approvals",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await app.execute(statement)
            await app.execute(
                "INSERT INTO flowstone.approval_audit (id, event, actor, at, asset, pkey, detail)"
                " VALUES ('x', 'note', 'app', now(), 'gate', '', '{}')"
            )
            assert await app.fetchval("SELECT count(*) FROM flowstone.approval_audit") == 3
        finally:
            await app.close()
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()
