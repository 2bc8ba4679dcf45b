"""``ApprovalStore``: where checkpoint approvals and their audit trail live, one per record
store (``storage.approvals``). One contract suite runs every backend
(tests/flowstone/storage/test_approval_store.py).

Every state change is ONE conditional update: it applies only while the gate is still open
(``pending`` or ``escalated``), and a deadline transition only while the deadline it fires
is still the gate's deadline. Two deciders, or a decider and a deadline, racing on one gate
therefore yield exactly one terminal state; the loser learns who won. The audit row of a
change is written in the same transaction as the change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flowstone.errors import ApprovalAlreadyDecided, ApprovalNotFound, StorageError
from flowstone.storage._approval_records import (
    CHANGEABLE,
    OPEN_STATUSES,
    ApprovalFields,
    ApprovalRecord,
    AuditEntry,
    StaleDeadline,
    fields_of,
)


class ApprovalStore(ABC):
    """The approvals and the append-only audit trail of one record store.

    A store opened for a pipeline (``Storage.pipeline``) lists and fires only that
    pipeline's gates (``list_approvals``, ``due``); lookups by id, by gate and the audit
    trail see every pipeline's.
    """

    @abstractmethod
    async def request(
        self, record: ApprovalRecord, audit: Sequence[AuditEntry]
    ) -> tuple[ApprovalRecord, bool]:
        """Store ``record`` unless the gate (run, checkpoint, partition) already has one.

        Returns the stored record and whether it was created; ``audit`` is appended only
        when it was (same transaction)."""

    @abstractmethod
    async def transition(
        self,
        approval_id: str,
        changes: Mapping[str, Any],
        audit: AuditEntry,
        *,
        deadline: datetime | None = None,
    ) -> ApprovalRecord:
        """Apply ``changes`` if the approval is open (and, with ``deadline``, if that is still
        its ``timeout_at``), appending ``audit`` in the same transaction.

        Raises:
            ApprovalNotFound: no approval has this id.
            ApprovalAlreadyDecided: it is terminal; names who decided and when.
            StaleDeadline: (``deadline`` given) it is open but its deadline already moved.
        """

    @abstractmethod
    async def get(self, approval_id: str) -> ApprovalRecord | None:
        """Return one approval."""

    @abstractmethod
    async def find(
        self, run_id: str, checkpoint: str, partition: str | None
    ) -> ApprovalRecord | None:
        """Return the approval of one gate of one run."""

    @abstractmethod
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
        """Return approvals oldest request first (then id); by default only open ones."""

    async def list_fields(
        self,
        *,
        checkpoint: str | None = None,
        partitions: Sequence[str | None] | None = None,
        requested_before: datetime | None = None,
        limit: int | None = None,
    ) -> list[ApprovalFields]:
        """Return the open approvals as ``list_approvals`` does, each as its listing fields
        only (SQL stores select just those columns and skip building records)."""
        found = await self.list_approvals(
            checkpoint=checkpoint,
            partitions=partitions,
            requested_before=requested_before,
            limit=limit,
        )
        return [fields_of(r) for r in found]

    @abstractmethod
    async def due(self, now: datetime, *, limit: int = 500) -> list[ApprovalRecord]:
        """Return open approvals whose deadline is at or before ``now``, earliest first."""

    @abstractmethod
    async def append_audit(self, entry: AuditEntry) -> None:
        """Append one audit row (automatic passes, notifier failures)."""

    @abstractmethod
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


def check_changes(changes: Mapping[str, Any]) -> None:
    """Refuse a transition that sets columns no transition may set (a programming error)."""
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise StorageError(f"an approval transition cannot set {sorted(unknown)}")


def refusal(
    approval_id: str, current: ApprovalRecord | None, deadline: datetime | None
) -> Exception:
    """Return the error for a transition that matched no row, judged from the row now."""
    if current is None:
        return ApprovalNotFound(approval_id)
    if current.status in OPEN_STATUSES and deadline is not None:
        return StaleDeadline(approval_id)
    return ApprovalAlreadyDecided(
        approval_id, current.status, current.decided_by, current.decided_at
    )
