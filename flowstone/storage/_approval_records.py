"""The records of checkpoint gates: one ``ApprovalRecord`` per gate reached in a run, and
the append-only ``AuditEntry`` rows that say who did what to it and when.

Internal to the storage wing; the approvals wing turns them into ``fs.Approval``.
Partition keys are encoded strings here (None when unpartitioned), as everywhere in storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, TypeAlias


class ApprovalStatus(StrEnum):
    """The status of a gate's approval; stored as its string value."""

    PENDING = "pending"
    ESCALATED = "escalated"
    APPROVED = "approved"
    MODIFIED = "modified"
    REJECTED = "rejected"
    EXPIRED = "expired"


OPEN_STATUSES: Final = ("pending", "escalated")
"""Statuses still waiting for a decision; every transition starts from one of them."""

TERMINAL_STATUSES: Final = ("approved", "modified", "rejected", "expired")
"""Statuses no transition leaves."""

CHANGEABLE: Final = frozenset(
    {
        "status",
        "decided_by",
        "decided_at",
        "reason",
        "modified_value",
        "escalated_to",
        "escalation_count",
        "timeout_at",
    }
)
"""The columns a transition may set."""


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """What the deadline does, copied from the gate's definition when it is requested, so
    any process can fire it without the pipeline's code."""

    on_timeout: str = "reject"
    timeout_seconds: float | None = None
    max_escalations: int = 3
    escalate_to: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the policy as a JSON-able dict."""
        return {
            "on_timeout": self.on_timeout,
            "timeout_seconds": self.timeout_seconds,
            "max_escalations": self.max_escalations,
            "escalate_to": list(self.escalate_to),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApprovalPolicy:
        """Rebuild a policy stored by ``to_json``."""
        return cls(
            on_timeout=str(data.get("on_timeout", "reject")),
            timeout_seconds=data.get("timeout_seconds"),
            max_escalations=int(data.get("max_escalations", 3)),
            escalate_to=tuple(data.get("escalate_to", ())),
        )


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """One gate of one run and partition, as stored.

    ``view`` is the JSON-able view of the gated input shown to reviewers; ``modified_value``
    the JSON form of an approver's replacement value (``status == "modified"``).
    """

    id: str
    run_id: str
    checkpoint: str
    partition: str | None
    status: str
    requested_at: datetime
    message: str | None = None
    view: Any = None
    timeout_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    modified_value: Any = None
    escalated_to: str | None = None
    escalation_count: int = 0
    policy: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    pipeline: str = ""
    tenant: str | None = None

    @property
    def is_open(self) -> bool:
        """True while the gate waits for a decision."""
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One append-only audit row: an event on a gate (or on its way through one).

    ``event`` is one of ``requested``, ``approved``, ``modified``, ``rejected``,
    ``escalated``, ``extended``, ``expired``, ``auto_approved``, ``auto_modified``,
    ``auto_rejected``, ``condition_passed``, ``notification_failed``. ``seq`` is assigned
    by the store (the order of the trail). Digests are SHA-256 of the canonical JSON of the
    value before and after the event.
    """

    id: str
    event: str
    actor: str
    at: datetime
    run_id: str | None
    asset: str
    partition: str | None
    approval_id: str | None = None
    reason: str | None = None
    before_digest: str | None = None
    after_digest: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    tenant: str | None = None
    seq: int | None = None


class StaleDeadline(Exception):
    """Internal: a deadline transition found the gate open but its deadline already moved
    (another process fired it first); nothing was changed."""


ApprovalFields: TypeAlias = tuple[
    str,  # id
    str,  # checkpoint
    str | None,  # partition (string form)
    str,  # run_id
    str,  # status
    str | None,  # message
    datetime,  # requested_at
    datetime | None,  # timeout_at
    str | None,  # decided_by
    datetime | None,  # decided_at
    str | None,  # reason
    str | None,  # escalated_to
    int,  # escalation_count
    Any,  # view
    Any,  # modified_value
]
"""What a listing needs of one approval, as a plain tuple in this order (no policy, pipeline
or tenant): building one tuple per row instead of a full ``ApprovalRecord`` is what keeps
listing thousands of open gates cheap."""


def fields_of(record: ApprovalRecord) -> ApprovalFields:
    """Return ``record``'s listing fields (``ApprovalFields`` order)."""
    return (
        record.id,
        record.checkpoint,
        record.partition,
        record.run_id,
        str(record.status),
        record.message,
        record.requested_at,
        record.timeout_at,
        record.decided_by,
        record.decided_at,
        record.reason,
        record.escalated_to,
        record.escalation_count,
        record.view,
        record.modified_value,
    )
