"""``rt.approvals``: the approval queue and the decisions on it (async and blocking forms).

A terminal decision resumes the run that waits at the gate: the deciding process hands
the run id to the runtime's resume (see ``ApprovalsWing``), so a decision made in any
process continues the run there; ``rt.wait(run_id)`` waits for it to finish.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, final

from flowstone.approvals._approval import Approval, approval_of, approvals_of
from flowstone.errors import ApprovalAlreadyDecided, ApprovalNotFound, InvalidPartition

if TYPE_CHECKING:
    from flowstone.approvals._wing import ApprovalsWing

T = TypeVar("T")


@final
@dataclass(frozen=True, slots=True)
class BulkDecision:
    """The outcome of a bulk decision: the approvals decided by this call, and those
    skipped because someone (or a deadline) decided them first, with who and when."""

    decided: list[Approval] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class AsyncApprovals:
    """``rt.approvals`` of an ``AsyncRuntime``; every method is a coroutine."""

    def __init__(self, wing: ApprovalsWing) -> None:
        self._wing = wing

    async def pending(
        self,
        checkpoint: str | None = None,
        partition: Any = None,
        *,
        partition_range: tuple[Any, Any] | None = None,
        older_than: timedelta | None = None,
        limit: int | None = None,
    ) -> list[Approval]:
        """List open gates (``pending`` and ``escalated``), oldest request first.

        Args:
            checkpoint: only this gate.
            partition: only this partition key (any accepted form).
            partition_range: ``(first, last)``, inclusive, compared in key order (needs
                ``checkpoint`` when keys are not strings).
            older_than: only requests made at least this long ago.
            limit: at most this many.
        """
        await self._wing.ready()
        partitions = None if partition is None else [self._encode(checkpoint, partition)]
        before = None if older_than is None else self._wing.now() - older_than
        found = await self._wing.store.list_fields(
            checkpoint=checkpoint,
            partitions=partitions,
            requested_before=before,
            limit=None if partition_range is not None else limit,
        )
        if partition_range is not None:
            first, last = (self._encode(checkpoint, k) for k in partition_range)
            found = [f for f in found if f[2] is not None and first <= f[2] <= last]
            found = found if limit is None else found[:limit]
        return approvals_of(found, self._wing.decode)

    async def get(self, approval_id: str) -> Approval:
        """Return one approval.

        Raises:
            ApprovalNotFound: no approval has this id.
        """
        await self._wing.ready()
        record = await self._wing.store.get(approval_id)
        if record is None:
            raise ApprovalNotFound(approval_id)
        return approval_of(record, self._wing.decode)

    async def approve(self, approval_id: str, *, by: str, reason: str | None = None) -> Approval:
        """Approve: the gate passes with its value and the run resumes.

        Raises:
            ApprovalNotFound, ApprovalAlreadyDecided, InvalidDecision (no ``by``).
        """
        await self._wing.ready()
        record = await self._wing.decider.approve(approval_id, by, reason)
        return approval_of(record, self._wing.decode)

    async def modify(
        self, approval_id: str, value: Any, *, by: str, reason: str | None = None
    ) -> Approval:
        """Approve with ``value`` instead (checked against the gate's type); the run resumes
        and downstream assets receive ``value``.

        Raises:
            ApprovalNotFound, ApprovalAlreadyDecided, InvalidDecision (the value does not
            fit the gate's declared type; no ``by``).
        """
        await self._wing.ready()
        record = await self._wing.decider.modify(approval_id, value, by, reason)
        return approval_of(record, self._wing.decode)

    async def reject(self, approval_id: str, *, by: str, reason: str) -> Approval:
        """Reject: the run fails with ``fs.CheckpointRejected`` carrying ``reason``.

        Raises:
            ApprovalNotFound, ApprovalAlreadyDecided, InvalidDecision (no reason, no ``by``).
        """
        await self._wing.ready()
        record = await self._wing.decider.reject(approval_id, by, reason)
        return approval_of(record, self._wing.decode)

    async def approve_all(
        self,
        checkpoint: str,
        *,
        by: str,
        reason: str | None = None,
        partition_range: tuple[Any, Any] | None = None,
        older_than: timedelta | None = None,
    ) -> BulkDecision:
        """Approve every open gate of ``checkpoint`` matching the filters, each one
        separately decided and audited; gates decided meanwhile are skipped, not errors."""
        result = BulkDecision()
        found = await self.pending(
            checkpoint, partition_range=partition_range, older_than=older_than
        )
        for approval in found:
            try:
                result.decided.append(await self.approve(approval.id, by=by, reason=reason))
            except ApprovalAlreadyDecided as exc:
                result.skipped.append((approval.id, str(exc)))
        return result

    def _encode(self, checkpoint: str | None, key: Any) -> str:
        if checkpoint is None:
            if not isinstance(key, str):
                raise InvalidPartition(
                    f"partition {key!r} needs the checkpoint to be read; pass checkpoint=... "
                    "or the key's string form"
                )
            return key
        definition = self._wing.pipeline.get(checkpoint)
        if definition.partitions is None:
            raise InvalidPartition(f"checkpoint {checkpoint!r} is not partitioned")
        return str(definition.partitions.encode(definition.partitions.validate(key)))


class Approvals:
    """``rt.approvals`` of a blocking ``Runtime`` (see ``AsyncApprovals``)."""

    def __init__(self, aio: AsyncApprovals, call: Callable[[Coroutine[Any, Any, Any]], Any]):
        self._aio = aio
        self._call = call

    def pending(
        self, checkpoint: str | None = None, partition: Any = None, **kw: Any
    ) -> list[Approval]:
        """See ``AsyncApprovals.pending``."""
        return self._run(self._aio.pending(checkpoint, partition, **kw))

    def get(self, approval_id: str) -> Approval:
        """See ``AsyncApprovals.get``."""
        return self._run(self._aio.get(approval_id))

    def approve(self, approval_id: str, *, by: str, reason: str | None = None) -> Approval:
        """See ``AsyncApprovals.approve``."""
        return self._run(self._aio.approve(approval_id, by=by, reason=reason))

    def modify(
        self, approval_id: str, value: Any, *, by: str, reason: str | None = None
    ) -> Approval:
        """See ``AsyncApprovals.modify``."""
        return self._run(self._aio.modify(approval_id, value, by=by, reason=reason))

    def reject(self, approval_id: str, *, by: str, reason: str) -> Approval:
        """See ``AsyncApprovals.reject``."""
        return self._run(self._aio.reject(approval_id, by=by, reason=reason))

    def approve_all(self, checkpoint: str, *, by: str, **kw: Any) -> BulkDecision:
        """See ``AsyncApprovals.approve_all``."""
        return self._run(self._aio.approve_all(checkpoint, by=by, **kw))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        result: T = self._call(coro)
        return result
