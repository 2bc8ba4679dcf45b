"""``SQLiteApprovalStore``: approvals in the SQLite record store's file.

Internal. Writes run on the record store's single writer thread inside ``BEGIN
IMMEDIATE``, so a conditional update and the read that explains a refusal see one state;
several processes sharing the file serialise on SQLite's write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
from flowstone.storage._codec import encode_pkey, from_micros, require_aware, to_micros
from flowstone.storage._sqlite_queries import transaction

if TYPE_CHECKING:
    from flowstone.storage._sqlite import SQLiteStorage

_INSERT_APPROVAL = (
    f"INSERT INTO approvals ({APPROVAL_COLUMNS}) VALUES ({', '.join('?' * 19)}) "
    "ON CONFLICT (run_id, checkpoint, pkey) DO NOTHING"
)
_INSERT_AUDIT = f"INSERT INTO approval_audit ({AUDIT_COLUMNS}) VALUES ({', '.join('?' * 14)})"
_SELECT = f"SELECT {APPROVAL_COLUMNS} FROM approvals"
_SELECT_FIELDS = f"SELECT {FIELD_COLUMNS} FROM approvals"
_OPEN = "status IN ('pending', 'escalated')"


class SQLiteApprovalStore(ApprovalStore):
    """An ``ApprovalStore`` in the tables of a ``SQLiteStorage``."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self._storage = storage

    async def request(
        self, record: ApprovalRecord, audit: Sequence[AuditEntry]
    ) -> tuple[ApprovalRecord, bool]:
        """Store ``record`` unless its gate already has one (see ``ApprovalStore``)."""
        row = approval_values(record, to_micros)
        rows = [audit_values(e, to_micros) for e in audit]
        return await self._storage._write(_request, row, rows)

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
        values = change_values(changes, to_micros)
        expected = None if deadline is None else to_micros(require_aware(deadline, "deadline"))
        found, current = await self._storage._write(
            _transition, approval_id, values, audit_values(audit, to_micros), expected
        )
        if found is None:
            raise refusal(approval_id, current, deadline)
        return found

    async def get(self, approval_id: str) -> ApprovalRecord | None:
        """Return one approval."""
        found = await self._storage._read(_select, f"{_SELECT} WHERE id = ?", [approval_id])
        return found[0] if found else None

    async def find(
        self, run_id: str, checkpoint: str, partition: str | None
    ) -> ApprovalRecord | None:
        """Return the approval of one gate of one run."""
        text = f"{_SELECT} WHERE run_id = ? AND checkpoint = ? AND pkey = ?"
        params = [run_id, checkpoint, encode_pkey(partition)]
        found = await self._storage._read(_select, text, params)
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
        where = Where(numbered=False)
        text = listing_query(
            _SELECT,
            where,
            to_micros,
            pipeline=self._storage.pipeline,
            open_only=open_only,
            checkpoint=checkpoint,
            partitions=partitions,
            requested_before=requested_before,
            requested_after=requested_after,
            run_id=run_id,
            limit=limit,
        )
        return await self._storage._read(_select, text, where.params)

    async def list_fields(
        self,
        *,
        checkpoint: str | None = None,
        partitions: Sequence[str | None] | None = None,
        requested_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[ApprovalFields]:
        """Return open approvals' listing fields (see ``ApprovalStore.list_fields``)."""
        where = Where(numbered=False)
        text = listing_query(
            _SELECT_FIELDS,
            where,
            to_micros,
            pipeline=self._storage.pipeline,
            open_only=True,
            checkpoint=checkpoint,
            partitions=partitions,
            requested_before=requested_before,
            limit=limit,
        )
        return await self._storage._read(_select_fields, text, where.params)

    async def due(self, now: datetime, *, limit: int = 500) -> list[ApprovalRecord]:
        """Return open approvals whose deadline has come, earliest first."""
        params: list[Any] = [to_micros(require_aware(now, "now"))]
        mine = ""
        if self._storage.pipeline:
            mine, params = " AND pipeline = ?", [*params, self._storage.pipeline]
        text = (
            f"{_SELECT} WHERE {_OPEN} AND timeout_at <= ?{mine} ORDER BY timeout_at, id "
            f"LIMIT {int(limit)}"
        )
        return await self._storage._read(_select, text, params)

    async def append_audit(self, entry: AuditEntry) -> None:
        """Append one audit row."""
        await self._storage._write(_append, audit_values(entry, to_micros))

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
        where = Where(numbered=False)
        audit_filter(
            where,
            approval_id=approval_id,
            asset=asset,
            partition=partition,
            any_partition=any_partition,
            run_id=run_id,
        )
        text = f"SELECT seq, {AUDIT_COLUMNS} FROM approval_audit {where.clause()} ORDER BY seq"
        if limit is not None:
            text += f" LIMIT {int(limit)}"
        return await self._storage._read(_select_audit, text, where.params)


# -- statements (run on the store's threads) ---------------------------------------------------


def _select(conn: sqlite3.Connection, text: str, params: Sequence[Any]) -> list[ApprovalRecord]:
    return [approval_from_row(row, from_micros) for row in conn.execute(text, params)]


def _select_fields(
    conn: sqlite3.Connection, text: str, params: Sequence[Any]
) -> list[ApprovalFields]:
    return fields_from_rows(conn.execute(text, params), from_micros)


def _select_audit(conn: sqlite3.Connection, text: str, params: Sequence[Any]) -> list[AuditEntry]:
    return [audit_from_row(row, from_micros) for row in conn.execute(text, params)]


def _request(
    conn: sqlite3.Connection, row: tuple[Any, ...], audit: list[tuple[Any, ...]]
) -> tuple[ApprovalRecord, bool]:
    with transaction(conn):
        created = conn.execute(_INSERT_APPROVAL, row).rowcount == 1
        if created:
            conn.executemany(_INSERT_AUDIT, audit)
        text = f"{_SELECT} WHERE run_id = ? AND checkpoint = ? AND pkey = ?"
        stored = _select(conn, text, [row[1], row[2], row[4]])[0]
    return stored, created


def _transition(
    conn: sqlite3.Connection,
    approval_id: str,
    values: dict[str, Any],
    audit: tuple[Any, ...],
    deadline: int | None,
) -> tuple[ApprovalRecord | None, ApprovalRecord | None]:
    assignments = ", ".join(f"{column} = ?" for column in values)
    text = f"UPDATE approvals SET {assignments} WHERE id = ? AND {_OPEN}"
    params = [*values.values(), approval_id]
    if deadline is not None:
        text += " AND timeout_at = ?"
        params.append(deadline)
    with transaction(conn):
        if conn.execute(text, params).rowcount == 1:
            conn.execute(_INSERT_AUDIT, audit)
            return _select(conn, f"{_SELECT} WHERE id = ?", [approval_id])[0], None
        current = _select(conn, f"{_SELECT} WHERE id = ?", [approval_id])
    return None, current[0] if current else None


def _append(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    with transaction(conn):
        conn.execute(_INSERT_AUDIT, row)
