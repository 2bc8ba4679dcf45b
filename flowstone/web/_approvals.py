"""The approvals queue of the dashboard, over ``rt.approvals`` (the approvals wing).

Decisions are made as the signed-in user: ``by`` is the user's name, so it reaches the
approvals audit trail. Deciding in the server's process resumes the waiting run there (the
approvals wing resumes a run wherever its gate is decided).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flowstone import AsyncRuntime
from flowstone.errors import (
    ApprovalAlreadyDecided,
    ApprovalNotFound,
    FlowStoneError,
    InvalidDecision,
)
from flowstone.web._auth import User

DECISIONS = ("approve", "modify", "reject")


class ApprovalsSection:
    """The queue and the decisions (the page builds against ``describe``)."""

    def __init__(self, runtime: AsyncRuntime) -> None:
        self.rt = runtime

    async def describe(self, limit: int = 500) -> dict[str, Any]:
        """The open gates, oldest request first."""
        pending = await self.rt.approvals.pending(limit=limit)
        return {"wired": True, "items": [a.to_json() for a in pending], "note": None}

    async def decide(
        self, user: User, approval_id: str, decision: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Apply one decision as ``user``; return (HTTP status, JSON body)."""
        approvals, reason = self.rt.approvals, body.get("reason") or None
        try:
            if decision == "approve":
                found = await approvals.approve(approval_id, by=user.name, reason=reason)
            elif decision == "modify":
                if "value" not in body:
                    return 400, {"error": "a modification needs a value"}
                found = await approvals.modify(
                    approval_id, body["value"], by=user.name, reason=reason
                )
            elif decision == "reject":
                found = await approvals.reject(approval_id, by=user.name, reason=reason or "")
            else:
                return 404, {"error": f"no decision {decision!r}; use {', '.join(DECISIONS)}"}
        except ApprovalNotFound as exc:
            return 404, {"error": str(exc)}
        except ApprovalAlreadyDecided as exc:
            return 409, {"error": str(exc)}
        except (InvalidDecision, FlowStoneError) as exc:
            return 400, {"error": str(exc)}
        return 200, found.to_json()

    async def approve_all(self, user: User, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Approve every open gate of one checkpoint matching the filters, as ``user``."""
        checkpoint = body.get("checkpoint")
        if not checkpoint:
            return 400, {"error": "bulk approval needs a checkpoint"}
        first, last = body.get("first") or None, body.get("last") or None
        older = body.get("older_than_seconds")
        try:
            result = await self.rt.approvals.approve_all(
                str(checkpoint),
                by=user.name,
                reason=body.get("reason") or None,
                partition_range=(first, last) if first and last else None,
                older_than=timedelta(seconds=float(older)) if older else None,
            )
        except FlowStoneError as exc:
            return 400, {"error": str(exc)}
        return 200, {
            "decided": [a.to_json() for a in result.decided],
            "skipped": [{"id": i, "why": why} for i, why in result.skipped],
        }
