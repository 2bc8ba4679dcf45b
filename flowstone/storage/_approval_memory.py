"""``MemoryApprovalStore``: approvals in dicts, for ``storage="memory"`` and tests.

Every method body runs without awaiting, so on one event loop each call is atomic: the
conditional transitions need no lock. The audit list is append-only by construction (no
method edits or removes an entry).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flowstone.storage._approval_records import OPEN_STATUSES, ApprovalRecord, AuditEntry
from flowstone.storage._approval_store import ApprovalStore, check_changes, refusal
from flowstone.storage._codec import require_aware


class ApprovalData:
    """Internal: what every pipeline's view of one memory store shares."""

    def __init__(self) -> None:
        self.records: dict[str, ApprovalRecord] = {}
        self.by_gate: dict[tuple[str, str, str | None], str] = {}
        self.audit: list[AuditEntry] = []
        self.seq = itertools.count(1)


class MemoryApprovalStore(ApprovalStore):
    """An ``ApprovalStore`` in memory (lost when the process exits).

    Args:
        pipeline: list and fire only this pipeline's gates ("" : every pipeline's).
        data: the shared dictionaries (another view of the same store).
    """

    def __init__(self, pipeline: str = "", data: ApprovalData | None = None) -> None:
        self.pipeline = pipeline
        data = data if data is not None else ApprovalData()
        self._records = data.records
        self._by_gate = data.by_gate
        self._audit = data.audit
        self._seq = data.seq

    async def request(
        self, record: ApprovalRecord, audit: Sequence[AuditEntry]
    ) -> tuple[ApprovalRecord, bool]:
        """Store ``record`` unless its gate already has one (see ``ApprovalStore``)."""
        require_aware(record.requested_at, "requested_at")
        gate = (record.run_id, record.checkpoint, record.partition)
        existing = self._by_gate.get(gate)
        if existing is not None:
            return self._records[existing], False
        self._records[record.id] = record
        self._by_gate[gate] = record.id
        for entry in audit:
            self._append(entry)
        return record, True

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
        current = self._records.get(approval_id)
        if (
            current is None
            or current.status not in OPEN_STATUSES
            or (deadline is not None and current.timeout_at != deadline)
        ):
            raise refusal(approval_id, current, deadline)
        updated = dataclasses.replace(current, **changes)
        self._records[approval_id] = updated
        self._append(audit)
        return updated

    async def get(self, approval_id: str) -> ApprovalRecord | None:
        """Return one approval."""
        return self._records.get(approval_id)

    async def find(
        self, run_id: str, checkpoint: str, partition: str | None
    ) -> ApprovalRecord | None:
        """Return the approval of one gate of one run."""
        found = self._by_gate.get((run_id, checkpoint, partition))
        return None if found is None else self._records[found]

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
        wanted = None if partitions is None else set(partitions)
        found = [
            r
            for r in self._records.values()
            if (not open_only or r.status in OPEN_STATUSES)
            and (not self.pipeline or r.pipeline == self.pipeline)
            and (checkpoint is None or r.checkpoint == checkpoint)
            and (wanted is None or r.partition in wanted)
            and (requested_before is None or r.requested_at < requested_before)
            and (requested_after is None or r.requested_at > requested_after)
            and (run_id is None or r.run_id == run_id)
        ]
        found.sort(key=lambda r: (r.requested_at, r.id))
        return found if limit is None else found[:limit]

    async def due(self, now: datetime, *, limit: int = 500) -> list[ApprovalRecord]:
        """Return open approvals whose deadline has come, earliest first."""
        require_aware(now, "now")
        found = [
            r
            for r in self._records.values()
            if r.status in OPEN_STATUSES
            and r.timeout_at is not None
            and r.timeout_at <= now
            and (not self.pipeline or r.pipeline == self.pipeline)
        ]
        found.sort(key=lambda r: (r.timeout_at, r.id))
        return found[:limit]

    async def append_audit(self, entry: AuditEntry) -> None:
        """Append one audit row."""
        self._append(entry)

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
        found = [
            e
            for e in self._audit
            if (approval_id is None or e.approval_id == approval_id)
            and (asset is None or e.asset == asset)
            and ((partition is None and any_partition) or e.partition == partition)
            and (run_id is None or e.run_id == run_id)
        ]
        return found if limit is None else found[:limit]

    def _append(self, entry: AuditEntry) -> None:
        require_aware(entry.at, "at")
        self._audit.append(dataclasses.replace(entry, seq=next(self._seq)))
