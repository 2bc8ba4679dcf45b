"""``PostgresApprovalStore``: approvals in the PostgreSQL record store's schema.

Internal. A transition is one ``UPDATE ... WHERE status IN (open) RETURNING``: under READ
COMMITTED a second concurrent update of the same row waits for the first to commit, then
re-checks the condition on the new row version and matches nothing, so exactly one wins.
Every call goes through the record store's retrying ``_run``; a replayed ``request`` is
absorbed by the unique gate key, and a replayed transition finds the gate decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from flowstone.storage._approval_records import ApprovalFields, ApprovalRecord, AuditEntry
from flowstone.storage._approval_sql import (
    APPROVAL_COLUMNS,
    AUDIT_COLUMNS,
    FIELD_COLUMNS,
    Where,
    approval_from_row,
    approval_values,
    audit_filter,
    audit_from_row,
    audit_values,
    change_values,
    fields_from_rows,
    listing_query,
)
from flowstone.storage._approval_store import (
    ApprovalStore,
    check_changes,
    refusal,
)
from flowstone.storage._codec import encode_pkey, require_aware

if TYPE_CHECKING:
    from flowstone.storage._postgres import PostgresStorage

_OPEN = "status IN ('pending', 'escalated')"
_JSON = {"view", "modified_value"}


def _same(value: Any) -> Any:
    return value


def _placeholders(columns: str, start: int = 1) -> str:
    names = [c.strip() for c in columns.split(",")]
    return ", ".join(
        f"${i}::jsonb" if name in _JSON | {"policy", "detail"} else f"${i}"
        for i, name in enumerate(names, start)
    )


class PostgresApprovalStore(ApprovalStore):
    """An ``ApprovalStore`` in the schema of a ``PostgresStorage``."""

    def __init__(self, storage: PostgresStorage) -> None:
        self._storage = storage
        s = storage._st.schema
        self._select = f"SELECT {APPROVAL_COLUMNS} FROM {s}.approvals"
        self._select_fields = f"SELECT {FIELD_COLUMNS} FROM {s}.approvals"
        self._insert = (
            f"INSERT INTO {s}.approvals ({APPROVAL_COLUMNS}) "
            f"VALUES ({_placeholders(APPROVAL_COLUMNS)}) "
            f"ON CONFLICT (run_id, checkpoint, pkey) DO NOTHING RETURNING id"
        )
        self._insert_audit = (
            f"INSERT INTO {s}.approval_audit ({AUDIT_COLUMNS}) "
            f"VALUES ({_placeholders(AUDIT_COLUMNS)})"
        )
        self._schema = s
        self._audit_exists = f"SELECT 1 FROM {s}.approval_audit WHERE id = $1"

    async def request(
        self, record: ApprovalRecord, audit: Sequence[AuditEntry]
    ) -> tuple[ApprovalRecord, bool]:
        """Store ``record`` unless its gate already has one (see ``ApprovalStore``)."""
        row = approval_values(record, _same)
        rows = [audit_values(e, _same) for e in audit]

        async def run(conn: asyncpg.Connection) -> tuple[ApprovalRecord, bool]:
            async with conn.transaction():
                created = await conn.fetchval(self._insert, *row) is not None
                if created and rows:
                    await conn.executemany(self._insert_audit, rows)
                text = f"{self._select} WHERE run_id = $1 AND checkpoint = $2 AND pkey = $3"
                stored = await conn.fetchrow(text, row[1], row[2], row[4])
            return approval_from_row(stored, _same), created

        return await self._storage._run("approvals.request", run)

    async def transition(
        self,
        approval_id: str,
        changes: Mapping[str, Any],
        audit: AuditEntry,
        *,
        deadline: datetime | None = None,
    ) -> ApprovalRecord:
        """Apply ``changes`` if the approval is open (see ``ApprovalStore.transition``)."""
        check_changes(changes)
        values = change_values(changes, _same)
        assignments = ", ".join(
            f"{column} = ${i}{'::jsonb' if column in _JSON else ''}"
            for i, column in enumerate(values, 1)
        )
        params: list[Any] = [*values.values(), approval_id]
        text = (
            f"UPDATE {self._schema}.approvals SET {assignments} "
            f"WHERE id = ${len(params)} AND {_OPEN}"
        )
        if deadline is not None:
            params.append(require_aware(deadline, "deadline"))
            text += f" AND timeout_at = ${len(params)}"
        text += f" RETURNING {APPROVAL_COLUMNS}"
        audit_row = audit_values(audit, _same)

        async def run(conn: asyncpg.Connection) -> tuple[Any, Any, bool]:
            async with conn.transaction():
                updated = await conn.fetchrow(text, *params)
                if updated is not None:
                    await conn.execute(self._insert_audit, *audit_row)
                    return updated, None, False
                current = await conn.fetchrow(f"{self._select} WHERE id = $1", approval_id)
                # A retry after a lost commit reply finds its own audit row: the change
                # that refused it is this call's, not a rival's.
                ours = await conn.fetchval(self._audit_exists, audit.id) is not None
                return None, current, ours

        updated, current, ours = await self._storage._run("approvals.transition", run)
        if updated is None:
            now = None if current is None else approval_from_row(current, _same)
            if ours:
                return now  # type: ignore[return-value]
            raise refusal(approval_id, now, deadline)
        return approval_from_row(updated, _same)

    async def get(self, approval_id: str) -> ApprovalRecord | None:
        """Return one approval."""
        found = await self._fetch(f"{self._select} WHERE id = $1", [approval_id])
        return found[0] if found else None

    async def find(
        self, run_id: str, checkpoint: str, partition: str | None
    ) -> ApprovalRecord | None:
        """Return the approval of one gate of one run."""
        text = f"{self._select} WHERE run_id = $1 AND checkpoint = $2 AND pkey = $3"
        found = await self._fetch(text, [run_id, checkpoint, encode_pkey(partition)])
        return found[0] if found else None

    async def list_approvals(
        self,
        *,
        open_only: bool = True,
        checkpoint: str | None = None,
        partitions: Sequence[str | None] | None = None,
        requested_before: datetime | None = None,
        requested_after: datetime | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[ApprovalRecord]:
        """Return approvals, oldest request first (see ``ApprovalStore.list_approvals``)."""
        where = Where(numbered=True)
        text = listing_query(
            self._select,
            where,
            _same,
            pipeline=self._storage.pipeline,
            open_only=open_only,
            checkpoint=checkpoint,
            partitions=partitions,
            requested_before=requested_before,
            requested_after=requested_after,
            run_id=run_id,
            limit=limit,
        )
        return await self._fetch(text, where.params)

    async def list_fields(
        self,
        *,
        checkpoint: str | None = None,
        partitions: Sequence[str | None] | None = None,
        requested_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[ApprovalFields]:
        """Return open approvals' listing fields (see ``ApprovalStore.list_fields``)."""
        where = Where(numbered=True)
        text = listing_query(
            self._select_fields,
            where,
            _same,
            pipeline=self._storage.pipeline,
            open_only=True,
            checkpoint=checkpoint,
            partitions=partitions,
            requested_before=requested_before,
            limit=limit,
        )
        return await self._fetch_fields(text, where.params)

    async def due(self, now: datetime, *, limit: int = 500) -> list[ApprovalRecord]:
        """Return open approvals whose deadline has come, earliest first."""
        params: list[Any] = [require_aware(now, "now")]
        mine = ""
        if self._storage.pipeline:
            mine, params = " AND pipeline = $2", [*params, self._storage.pipeline]
        text = (
            f"{self._select} WHERE {_OPEN} AND timeout_at <= $1{mine} ORDER BY timeout_at, id "
            f"LIMIT {int(limit)}"
        )
        return await self._fetch(text, params)

    async def append_audit(self, entry: AuditEntry) -> None:
        """Append one audit row."""
        row = audit_values(entry, _same)

        async def run(conn: asyncpg.Connection) -> None:
            await conn.execute(self._insert_audit, *row)

        await self._storage._run("approvals.append_audit", run)

    async def audit(
        self,
        *,
        approval_id: str | None = None,
        asset: str | None = None,
        partition: str | None = None,
        any_partition: bool = True,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Return audit rows in the order they were appended."""
        where = Where(numbered=True)
        audit_filter(
            where,
            approval_id=approval_id,
            asset=asset,
            partition=partition,
            any_partition=any_partition,
            run_id=run_id,
        )
        text = (
            f"SELECT seq, {AUDIT_COLUMNS} FROM {self._schema}.approval_audit "
            f"{where.clause()} ORDER BY seq"
        )
        if limit is not None:
            text += f" LIMIT {int(limit)}"

        async def run(conn: asyncpg.Connection) -> list[AuditEntry]:
            return [audit_from_row(row, _same) for row in await conn.fetch(text, *where.params)]

        return await self._storage._run("approvals.audit", run)

    async def _fetch(self, text: str, params: Sequence[Any]) -> list[ApprovalRecord]:
        async def run(conn: asyncpg.Connection) -> list[ApprovalRecord]:
            return [approval_from_row(row, _same) for row in await conn.fetch(text, *params)]

        return await self._storage._run("approvals.list", run)

    async def _fetch_fields(self, text: str, params: Sequence[Any]) -> list[ApprovalFields]:
        async def run(conn: asyncpg.Connection) -> list[ApprovalFields]:
            return fields_from_rows(await conn.fetch(text, *params), _same)

        return await self._storage._run("approvals.list", run)
