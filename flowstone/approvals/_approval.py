"""``fs.Approval``: one gate of one run and partition, as reviewers and code see it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, final

from flowstone.storage import OPEN_STATUSES, ApprovalRecord
from flowstone.storage._approval_records import ApprovalFields


@final
@dataclass(frozen=True, slots=True)
class Approval:
    """A checkpoint approval.

    Attributes:
        id: the approval id (what ``approve`` / ``modify`` / ``reject`` take).
        checkpoint: the gate's name.
        partition: the gate's partition key (decoded, e.g. a ``date``), None unpartitioned.
        run_id: the run waiting at the gate.
        status: ``pending``, ``escalated`` (both still open), or the terminal ``approved``,
            ``modified``, ``rejected``, ``expired``.
        message: the text for the reviewer.
        requested_at, timeout_at: when the request was made and its current deadline
            (None: no deadline).
        decided_by, decided_at, reason: the decision (``flowstone:deadline`` when a
            deadline decided, ``flowstone:auto_decide`` / ``flowstone:condition`` for
            automatic passes).
        escalated_to, escalation_count: the last escalation target and how many so far.
        partition_key: the partition's string form.
        value: the JSON view of the gated input that reviewers see.
        modified_value: the approver's value (JSON form) when ``status == "modified"``.
    """

    id: str
    checkpoint: str
    partition: Any
    run_id: str
    status: str
    message: str | None
    requested_at: datetime
    timeout_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    escalated_to: str | None
    escalation_count: int
    partition_key: str | None = None
    value: Any = None
    modified_value: Any = None

    @property
    def is_open(self) -> bool:
        """True while the gate waits for a decision (``pending`` or ``escalated``)."""
        return self.status in OPEN_STATUSES

    def to_json(self) -> dict[str, Any]:
        """Return the approval as JSON-able data (times in ISO 8601)."""
        return {
            "id": self.id,
            "checkpoint": self.checkpoint,
            "partition": self.partition_key,
            "run_id": self.run_id,
            "status": self.status,
            "message": self.message,
            "requested_at": _iso(self.requested_at),
            "timeout_at": _iso(self.timeout_at),
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "reason": self.reason,
            "escalated_to": self.escalated_to,
            "escalation_count": self.escalation_count,
            "value": self.value,
            "modified_value": self.modified_value,
        }

    def __repr__(self) -> str:
        where = f"[{self.partition_key}]" if self.partition_key is not None else ""
        return f"<Approval {self.checkpoint}{where} {self.status} id={self.id} run={self.run_id}>"


Decode = Callable[[str, str | None], Any]
"""Turns (checkpoint, encoded partition) into the decoded key."""


def approval_of(record: ApprovalRecord, decode: Decode | None = None) -> Approval:
    """Return the public form of a stored approval."""
    partition: Any = record.partition
    if decode is not None and record.partition is not None:
        partition = decode(record.checkpoint, record.partition)
    return Approval(
        id=record.id,
        checkpoint=record.checkpoint,
        partition=partition,
        run_id=record.run_id,
        status=str(record.status),
        message=record.message,
        requested_at=record.requested_at,
        timeout_at=record.timeout_at,
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        reason=record.reason,
        escalated_to=record.escalated_to,
        escalation_count=record.escalation_count,
        partition_key=record.partition,
        value=record.view,
        modified_value=record.modified_value,
    )


def approvals_of(found: Iterable[ApprovalFields], decode: Decode) -> list[Approval]:
    """Return the public form of listed approvals (``ApprovalStore.list_fields``)."""
    # Positional construction from the plain tuples: a listing builds one object per gate.
    return [
        Approval(
            id_,
            checkpoint,
            None if key is None else decode(checkpoint, key),
            run_id,
            status,
            message,
            requested_at,
            timeout_at,
            decided_by,
            decided_at,
            reason,
            escalated_to,
            count,
            key,
            view,
            modified,
        )
        for (
            id_,
            checkpoint,
            key,
            run_id,
            status,
            message,
            requested_at,
            timeout_at,
            decided_by,
            decided_at,
            reason,
            escalated_to,
            count,
            view,
            modified,
        ) in found
    ]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
