"""``Decider``: every state change of an approval after its request — a person's decision
or a deadline firing — as one conditional update with its audit row.

State machine (docs/approvals.md):

    pending ──approve──▶ approved        pending/escalated ──deadline, on_timeout──▶
       │   ──modify───▶ modified            "approve"  ▶ approved
       │   ──reject───▶ rejected            "reject"   ▶ rejected
       ▼                                    "extend"   ▶ same status, later deadline
    escalated (decisions as from pending)   "escalate" ▶ escalated (count+1, new deadline),
                                                         expired after max_escalations

A decision applies only while the gate is open; a deadline applies only while the
deadline it fires is still the gate's. So whoever commits first wins, once, and the rest
get ``ApprovalAlreadyDecided`` (people) or step aside (deadlines).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from flowstone.approvals._approval import approval_of
from flowstone.approvals._notifier import Notifications
from flowstone.approvals._values import checked_value, digest, json_view
from flowstone.errors import ApprovalAlreadyDecided, ApprovalNotFound, InvalidDecision
from flowstone.storage import ApprovalRecord, ApprovalStore, AuditEntry
from flowstone.storage._approval_records import StaleDeadline

log = logging.getLogger("flowstone.approvals")

DEADLINE = "flowstone:deadline"
"""The actor of transitions made by a deadline."""

OnDecided = Callable[[ApprovalRecord], Awaitable[None]]
Decode = Callable[[str, str | None], Any]
TypeOf = Callable[[str], Any]


class Decider:
    """Applies decisions and deadlines to approvals (internal; see ``rt.approvals``).

    Args:
        store: the approvals store.
        now: the wall clock.
        notifications: where events are announced.
        value_type: the declared value type of a checkpoint (None: any value).
        decode: turns an encoded partition into its key, for notifications.
        on_decided: awaited after every terminal transition (resumes the run).
    """

    def __init__(
        self,
        store: ApprovalStore,
        now: Callable[[], datetime],
        notifications: Notifications,
        *,
        value_type: TypeOf = lambda checkpoint: None,
        decode: Decode | None = None,
        on_decided: OnDecided | None = None,
    ) -> None:
        self.store = store
        self.now = now
        self.notifications = notifications
        self._value_type = value_type
        self._decode = decode
        self.on_decided = on_decided

    # -- people ---------------------------------------------------------------------------

    async def approve(self, approval_id: str, by: str, reason: str | None) -> ApprovalRecord:
        """Approve: the gate passes with its own value."""
        return await self._decide(approval_id, "approved", by, reason, {})

    async def modify(
        self, approval_id: str, value: Any, by: str, reason: str | None
    ) -> ApprovalRecord:
        """Approve with ``value`` instead, checked against the gate's declared type.

        Raises:
            InvalidDecision: the value does not fit the declared type.
        """
        record = await self._open(approval_id)
        checked = checked_value(value, self._value_type(record.checkpoint), record.checkpoint)
        stored = json_view(checked)
        return await self._decide(approval_id, "modified", by, reason, {"modified_value": stored})

    async def reject(self, approval_id: str, by: str, reason: str | None) -> ApprovalRecord:
        """Reject: the run fails with ``CheckpointRejected`` carrying ``reason``.

        Raises:
            InvalidDecision: ``reason`` is missing or blank.
        """
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidDecision(
                f"rejecting approval {approval_id!r} needs a reason, got {reason!r}; say why, "
                f"e.g. reject({approval_id!r}, by='alice', reason='totals do not match')"
            )
        return await self._decide(approval_id, "rejected", by, reason, {})

    async def _open(self, approval_id: str) -> ApprovalRecord:
        record = await self.store.get(approval_id)
        if record is None:
            raise ApprovalNotFound(approval_id)
        if not record.is_open:
            raise ApprovalAlreadyDecided(
                approval_id, record.status, record.decided_by, record.decided_at
            )
        return record

    async def _decide(
        self,
        approval_id: str,
        status: str,
        by: str,
        reason: str | None,
        extra: Mapping[str, Any],
    ) -> ApprovalRecord:
        if not isinstance(by, str) or not by.strip():
            raise InvalidDecision(
                f"a decision names who made it: pass by='alice@example.com', got {by!r}"
            )
        record = await self._open(approval_id)
        now = self.now()
        changes = {"status": status, "decided_by": by, "decided_at": now, "reason": reason}
        after = extra.get("modified_value", record.view)
        audit = self._entry(record, status, by, now, reason, after=after)
        decided = await self.store.transition(approval_id, {**changes, **extra}, audit)
        await self._terminal(decided)
        return decided

    # -- deadlines ------------------------------------------------------------------------

    async def fire_due(self, *, limit: int = 500) -> list[ApprovalRecord]:
        """Fire every deadline that has come; return the approvals this call changed."""
        fired: list[ApprovalRecord] = []
        while True:
            due = await self.store.due(self.now(), limit=limit)
            changed = [r for r in [await self.fire(record) for record in due] if r is not None]
            fired += changed
            if len(due) < limit or not changed:
                return fired

    async def fire(self, record: ApprovalRecord) -> ApprovalRecord | None:
        """Apply ``record``'s ``on_timeout``; None when someone else got there first."""
        assert record.timeout_at is not None, "only gates with a deadline fire"
        now = self.now()
        changes, event, reason = self._on_timeout(record, now)
        audit = self._entry(record, event, DEADLINE, now, reason, after=record.view)
        try:
            changed = await self.store.transition(
                record.id, changes, audit, deadline=record.timeout_at
            )
        except (ApprovalAlreadyDecided, StaleDeadline, ApprovalNotFound):
            return None  # decided, or fired by another process, in the meantime
        if changed.is_open:
            if event == "escalated":
                self.notifications.send("escalated", approval_of(changed, self._decode))
        else:
            await self._terminal(changed)
        return changed

    def _on_timeout(self, record: ApprovalRecord, now: datetime) -> tuple[dict[str, Any], str, str]:
        policy = record.policy
        deadline = record.timeout_at if record.timeout_at is not None else now
        waited = f"no decision by {deadline.isoformat()}"
        later = max(now, deadline) + timedelta(seconds=policy.timeout_seconds or 0)
        if policy.on_timeout in ("approve", "reject"):
            status = "approved" if policy.on_timeout == "approve" else "rejected"
            reason = f"{waited}; on_timeout={policy.on_timeout!r}"
            return self._terminal_changes(status, now, reason), status, reason
        if policy.on_timeout == "extend":
            return {"timeout_at": later}, "extended", f"{waited}; extended to {later.isoformat()}"
        if record.escalation_count >= policy.max_escalations:
            reason = f"{waited} after {record.escalation_count} escalation(s); expired"
            return self._terminal_changes("expired", now, reason), "expired", reason
        count = record.escalation_count + 1
        levels = policy.escalate_to
        target = levels[min(count, len(levels)) - 1] if levels else None
        changes = {
            "status": "escalated",
            "escalation_count": count,
            "escalated_to": target,
            "timeout_at": later,
        }
        return changes, "escalated", f"{waited}; escalation {count} to {target}"

    @staticmethod
    def _terminal_changes(status: str, now: datetime, reason: str) -> dict[str, Any]:
        return {"status": status, "decided_by": DEADLINE, "decided_at": now, "reason": reason}

    # -- shared ---------------------------------------------------------------------------

    async def _terminal(self, record: ApprovalRecord) -> None:
        self.notifications.send("decided", approval_of(record, self._decode))
        if self.on_decided is not None:
            await self.on_decided(record)

    @staticmethod
    def _entry(
        record: ApprovalRecord,
        event: str,
        actor: str,
        at: datetime,
        reason: str | None,
        *,
        after: Any,
    ) -> AuditEntry:
        return AuditEntry(
            id=uuid.uuid4().hex,
            event=event,
            actor=actor,
            at=at,
            run_id=record.run_id,
            asset=record.checkpoint,
            partition=record.partition,
            approval_id=record.id,
            reason=reason,
            before_digest=digest(record.view),
            after_digest=digest(after),
            detail={"escalation_count": record.escalation_count},
            tenant=record.tenant,
        )
