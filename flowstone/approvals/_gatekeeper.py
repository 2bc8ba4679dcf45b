"""``ApprovalGateKeeper``: what happens when a run reaches a checkpoint gate.

Called by the engine (its ``GateKeeper`` hook) each time the gate's node is due, in the
first run and again whenever the run is resumed. The answer depends only on what is
stored, so any process gives the same one:

1. an approval already exists for (run, checkpoint, partition): decided -> pass with the
   gate's value (or the modified value) or raise ``CheckpointRejected``; open -> wait;
2. otherwise ``condition`` false -> pass, recorded as an automatic approval;
3. otherwise ``auto_decide`` returns a decision -> apply it, recorded as automatic;
4. otherwise record a pending request (message, JSON view of the input, deadline) and
   wait. The request is unique per gate, so two processes reaching it at once store one.
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flowstone.approvals._approval import approval_of
from flowstone.approvals._decision import Approve, Modify, Reject
from flowstone.approvals._notifier import Notifications
from flowstone.approvals._values import (
    bounded_view,
    checked_value,
    digest,
    json_view,
    restored_value,
)
from flowstone.definitions._checkpoint import CheckpointSpec
from flowstone.engine._gate import GateRequest, Proceed, Wait
from flowstone.errors import CheckpointRejected, ConfigurationError, InvalidDecision
from flowstone.storage import ApprovalPolicy, ApprovalRecord, ApprovalStore, AuditEntry
from flowstone.tenancy import current_tenant

CONDITION = "flowstone:condition"
AUTO_DECIDE = "flowstone:auto_decide"
_STATUS = {Approve: "approved", Modify: "modified", Reject: "rejected"}


class ApprovalGateKeeper:
    """The engine's gatekeeper backed by an approvals store.

    Args:
        store: the approvals store.
        now: the wall clock.
        notifications: where ``requested`` (and automatic ``decided``) events go.
        pipeline: the pipeline's name, stored with each request.
    """

    def __init__(
        self,
        store: ApprovalStore,
        now: Callable[[], datetime],
        notifications: Notifications,
        *,
        pipeline: str = "",
    ) -> None:
        self._store = store
        self._now = now
        self._notifications = notifications
        self._pipeline = pipeline

    async def reached(self, request: GateRequest) -> Proceed | Wait:
        """Pass the gate, wait at it, or raise ``CheckpointRejected`` (see the module)."""
        spec = _spec(request)
        name = request.definition.name
        existing = await self._store.find(request.run_id, name, request.partition_key)
        if existing is not None:
            return await self._outcome(existing, request)
        view = bounded_view(request.inputs if len(request.inputs) != 1 else _only(request.inputs))
        if spec.condition is not None and not await _call(spec.condition, request):
            record = self._record(request, spec, view, "approved", CONDITION, "condition false")
            return await self._automatic(record, request, "condition_passed")
        if spec.auto_decide is not None:
            decision = await _call(spec.auto_decide, request)
            if decision is not None:
                return await self._auto_decided(decision, request, spec, view)
        return await self._ask(request, spec, view)

    async def _ask(self, request: GateRequest, spec: CheckpointSpec, view: Any) -> Proceed | Wait:
        record = self._record(request, spec, view, "pending", None, None)
        message = spec.message
        if callable(message):
            message = str(await _call(message, request))
        now = record.requested_at
        deadline = None if spec.timeout is None else now + spec.timeout
        record = _replace(record, message=message, timeout_at=deadline)
        stored, created = await self._store.request(record, [self._entry(record, "requested")])
        if not created:
            return await self._outcome(stored, request)
        self._notifications.send("requested", approval_of(stored, _decoder(request)))
        return Wait(stored.id)

    async def _auto_decided(
        self, decision: Any, request: GateRequest, spec: CheckpointSpec, view: Any
    ) -> Proceed | Wait:
        if not isinstance(decision, Approve | Modify | Reject):
            raise InvalidDecision(
                f"auto_decide of checkpoint {request.definition.name!r} must return "
                f"fs.Approve(), fs.Modify(value), fs.Reject(reason) or None, got {decision!r}"
            )
        status = _STATUS[type(decision)]
        reason = decision.reason or f"auto_decide: {status}"
        record = self._record(request, spec, view, status, AUTO_DECIDE, reason)
        if isinstance(decision, Modify):
            value = checked_value(decision.value, spec.value_type, request.definition.name)
            record = _replace(record, modified_value=json_view(value))
        return await self._automatic(record, request, f"auto_{status}")

    async def _automatic(
        self, record: ApprovalRecord, request: GateRequest, event: str
    ) -> Proceed | Wait:
        stored, created = await self._store.request(record, [self._entry(record, event)])
        if created:
            self._notifications.send("decided", approval_of(stored, _decoder(request)))
        return await self._outcome(stored, request)

    async def _outcome(self, record: ApprovalRecord, request: GateRequest) -> Proceed | Wait:
        if record.is_open:
            return Wait(record.id)
        if record.status in ("rejected", "expired"):
            raise CheckpointRejected(
                record.checkpoint,
                record.reason or record.status,
                partition_key=record.partition,
                decided_by=record.decided_by,
                approval_id=record.id,
            )
        spec = _spec(request)
        if record.status == "modified":
            value = restored_value(record.modified_value, spec.value_type)
        else:
            value = await _call(request.definition.fn, request)
        metadata = {
            "approval_id": record.id,
            "approval_status": str(record.status),
            "decided_by": record.decided_by,
            "input_digest": digest(record.view),
            "value_digest": digest(value),
        }
        return Proceed(value, metadata)

    def _record(
        self,
        request: GateRequest,
        spec: CheckpointSpec,
        view: Any,
        status: str,
        decided_by: str | None,
        reason: str | None,
    ) -> ApprovalRecord:
        now = self._now()
        timeout = spec.timeout.total_seconds() if spec.timeout is not None else None
        return ApprovalRecord(
            id=uuid.uuid4().hex,
            run_id=request.run_id,
            checkpoint=request.definition.name,
            partition=request.partition_key,
            status=status,
            requested_at=now,
            view=view,
            decided_by=decided_by,
            decided_at=now if decided_by is not None else None,
            reason=reason,
            policy=ApprovalPolicy(spec.on_timeout, timeout, spec.max_escalations, spec.escalate_to),
            pipeline=self._pipeline,
            tenant=current_tenant(),
        )

    def _entry(self, record: ApprovalRecord, event: str) -> AuditEntry:
        after = record.modified_value if record.status == "modified" else record.view
        return AuditEntry(
            id=uuid.uuid4().hex,
            event=event,
            actor=record.decided_by or "flowstone:gate",
            at=record.requested_at,
            run_id=record.run_id,
            asset=record.checkpoint,
            partition=record.partition,
            approval_id=record.id,
            reason=record.reason,
            before_digest=digest(record.view),
            after_digest=digest(after),
            detail={"message": record.message, "timeout_at": _iso(record.timeout_at)},
            tenant=record.tenant,
        )


def _spec(request: GateRequest) -> CheckpointSpec:
    spec = request.definition.checkpoint
    if not isinstance(spec, CheckpointSpec):
        raise ConfigurationError(
            f"checkpoint {request.definition.name!r} was reached but this runtime's approvals "
            f"gatekeeper cannot read its spec: expected the CheckpointSpec that "
            f"@pipeline.checkpoint makes, found {spec!r}"
        )
    return spec


def _only(inputs: Mapping[str, Any]) -> Any:
    return next(iter(inputs.values()))


async def _call(fn: Callable[..., Any], request: GateRequest) -> Any:
    result = fn(request.context, **request.inputs)
    if inspect.isawaitable(result):
        result = await result
    return result


def _decoder(request: GateRequest) -> Callable[[str, str | None], Any]:
    return lambda checkpoint, key: request.partition


def _replace(record: ApprovalRecord, **changes: Any) -> ApprovalRecord:
    return dataclasses.replace(record, **changes)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
