"""Row conversions and filters the two SQL approval stores share.

Internal. Columns are listed once here; each backend brings its placeholders and its time
and JSON conversions (SQLite: integer microseconds and JSON text; PostgreSQL: timestamptz
and jsonb as text).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from json.scanner import make_scanner
from typing import Any

from flowstone.storage._approval_records import (
    ApprovalFields,
    ApprovalPolicy,
    ApprovalRecord,
    AuditEntry,
)
from flowstone.storage._codec import dump_json, encode_pkey, require_aware

APPROVAL_COLUMNS = (
    "id, run_id, checkpoint, partition, pkey, pipeline, status, message, view, requested_at, "
    "timeout_at, decided_by, decided_at, reason, modified_value, escalated_to, "
    "escalation_count, policy, tenant"
)
FIELD_COLUMNS = (
    "id, checkpoint, partition, run_id, status, message, requested_at, timeout_at, "
    "decided_by, decided_at, reason, escalated_to, escalation_count, view, modified_value"
)
"""The columns of ``ApprovalFields``, in its order."""
AUDIT_COLUMNS = (
    "id, approval_id, event, actor, reason, before_digest, after_digest, at, run_id, asset, "
    "partition, pkey, detail, tenant"
)
TIME_COLUMNS = frozenset({"requested_at", "timeout_at", "decided_at"})
JSON_COLUMNS = frozenset({"view", "modified_value"})

TimeIn = Callable[[datetime], Any]
TimeOut = Callable[[Any], datetime]


def _time_in(value: datetime | None, to_time: TimeIn, what: str) -> Any:
    return None if value is None else to_time(require_aware(value, what))


def _json_in(value: Any) -> str | None:
    return None if value is None else dump_json(value)


# The C scanner behind json.loads, called directly: json.loads wraps it in two regex
# whitespace matches that cost as much as the parse of a small view, once per listed gate.
_scan: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


def load_json(text: str) -> Any:
    """Return ``json.loads(text)`` (same values, same errors), faster on compact text."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)  # not a JSON value at 0 (e.g. leading space): its own error
    return value if end == len(text) else json.loads(text)


def _json_out(value: Any) -> Any:
    return None if value is None else load_json(value)


def approval_values(record: ApprovalRecord, to_time: TimeIn) -> tuple[Any, ...]:
    """Return the row of ``record`` in ``APPROVAL_COLUMNS`` order."""
    return (
        record.id,
        record.run_id,
        record.checkpoint,
        record.partition,
        encode_pkey(record.partition),
        record.pipeline,
        str(record.status),
        record.message,
        _json_in(record.view),
        _time_in(record.requested_at, to_time, "requested_at"),
        _time_in(record.timeout_at, to_time, "timeout_at"),
        record.decided_by,
        _time_in(record.decided_at, to_time, "decided_at"),
        record.reason,
        _json_in(record.modified_value),
        record.escalated_to,
        record.escalation_count,
        dump_json(record.policy.to_json()),
        record.tenant,
    )


def approval_from_row(row: Sequence[Any], from_time: TimeOut) -> ApprovalRecord:
    """Invert ``approval_values`` (a row in ``APPROVAL_COLUMNS`` order)."""
    (id_, run_id, checkpoint, partition, _pkey, pipeline, status, message, view) = row[:9]
    (requested_at, timeout_at, decided_by, decided_at, reason, modified) = row[9:15]
    (escalated_to, escalation_count, policy, tenant) = row[15:19]
    return ApprovalRecord(
        id=id_,
        run_id=run_id,
        checkpoint=checkpoint,
        partition=partition,
        status=status,
        requested_at=from_time(requested_at),
        message=message,
        view=_json_out(view),
        timeout_at=None if timeout_at is None else from_time(timeout_at),
        decided_by=decided_by,
        decided_at=None if decided_at is None else from_time(decided_at),
        reason=reason,
        modified_value=_json_out(modified),
        escalated_to=escalated_to,
        escalation_count=escalation_count,
        policy=_policy(policy),
        pipeline=pipeline,
        tenant=tenant,
    )


def fields_from_rows(rows: Iterable[Sequence[Any]], from_time: TimeOut) -> list[ApprovalFields]:
    """Convert rows in ``FIELD_COLUMNS`` order (times and JSON decoded)."""
    # One loop with the conversions inlined: this runs for every open gate of a listing.
    loads = load_json
    return [
        (
            id_,
            checkpoint,
            partition,
            run_id,
            status,
            message,
            from_time(requested),
            None if timeout is None else from_time(timeout),
            decided_by,
            None if decided is None else from_time(decided),
            reason,
            escalated_to,
            count,
            None if view is None else loads(view),
            None if modified is None else loads(modified),
        )
        for (
            id_,
            checkpoint,
            partition,
            run_id,
            status,
            message,
            requested,
            timeout,
            decided_by,
            decided,
            reason,
            escalated_to,
            count,
            view,
            modified,
        ) in rows
    ]


def listing_query(
    select: str,
    where: Where,
    to_time: TimeIn,
    *,
    pipeline: str,
    open_only: bool,
    checkpoint: str | None,
    partitions: Sequence[str | None] | None,
    requested_before: datetime | None,
    requested_after: datetime | None = None,
    run_id: str | None = None,
    limit: int | None,
) -> str:
    """Return ``select`` with the filters of ``list_approvals`` (parameters in ``where``),
    oldest request first."""
    approval_filter(
        where,
        to_time,
        pipeline=pipeline,
        open_only=open_only,
        checkpoint=checkpoint,
        partitions=partitions,
        requested_before=requested_before,
        requested_after=requested_after,
        run_id=run_id,
    )
    text = f"{select} {where.clause()} ORDER BY requested_at, id"
    return text if limit is None else f"{text} LIMIT {int(limit)}"


@functools.lru_cache(maxsize=1024)
def _policy_text(text: str) -> ApprovalPolicy:
    return ApprovalPolicy.from_json(json.loads(text))


def _policy(stored: Any) -> ApprovalPolicy:
    # Every gate of one checkpoint stores the same policy text: parse each text once.
    if isinstance(stored, str):
        return _policy_text(stored)
    return ApprovalPolicy.from_json(stored)


def change_values(changes: Mapping[str, Any], to_time: TimeIn) -> dict[str, Any]:
    """Return ``changes`` converted to column values."""
    converted: dict[str, Any] = {}
    for column, value in changes.items():
        if column in TIME_COLUMNS:
            converted[column] = _time_in(value, to_time, column)
        elif column in JSON_COLUMNS:
            converted[column] = _json_in(value)
        else:
            converted[column] = value
    return converted


def audit_values(entry: AuditEntry, to_time: TimeIn) -> tuple[Any, ...]:
    """Return the row of ``entry`` in ``AUDIT_COLUMNS`` order."""
    return (
        entry.id,
        entry.approval_id,
        entry.event,
        entry.actor,
        entry.reason,
        entry.before_digest,
        entry.after_digest,
        to_time(require_aware(entry.at, "at")),
        entry.run_id,
        entry.asset,
        entry.partition,
        encode_pkey(entry.partition),
        dump_json(dict(entry.detail)),
        entry.tenant,
    )


def audit_from_row(row: Sequence[Any], from_time: TimeOut) -> AuditEntry:
    """Invert ``audit_values`` (``seq`` first, then ``AUDIT_COLUMNS``)."""
    seq, id_, approval_id, event, actor, reason, before, after, at = row[:9]
    run_id, asset, partition, _pkey, detail, tenant = row[9:15]
    return AuditEntry(
        id=id_,
        event=event,
        actor=actor,
        at=from_time(at),
        run_id=run_id,
        asset=asset,
        partition=partition,
        approval_id=approval_id,
        reason=reason,
        before_digest=before,
        after_digest=after,
        detail=json.loads(detail) if isinstance(detail, str) else dict(detail or {}),
        tenant=tenant,
        seq=seq,
    )


class Where:
    """A WHERE clause built one condition at a time, with numbered or ``?`` placeholders."""

    def __init__(self, numbered: bool) -> None:
        self._numbered = numbered
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def mark(self, value: Any) -> str:
        """Add a parameter and return its placeholder."""
        self.params.append(value)
        return f"${len(self.params)}" if self._numbered else "?"

    def add(self, template: str, *values: Any) -> None:
        """Add ``template`` with each ``{}`` replaced by a placeholder for its value."""
        self.conditions.append(template.format(*(self.mark(v) for v in values)))

    def clause(self) -> str:
        """Return ``WHERE ...`` (or nothing)."""
        return f"WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


def approval_filter(
    where: Where,
    to_time: TimeIn,
    *,
    pipeline: str,
    open_only: bool,
    checkpoint: str | None,
    partitions: Sequence[str | None] | None,
    requested_before: datetime | None,
    requested_after: datetime | None,
    run_id: str | None,
) -> None:
    """Add the conditions of ``ApprovalStore.list_approvals`` to ``where`` (only
    ``pipeline``'s gates when it is not empty)."""
    if open_only:
        where.conditions.append("status IN ('pending', 'escalated')")
    if pipeline:
        where.add("pipeline = {}", pipeline)
    if checkpoint is not None:
        where.add("checkpoint = {}", checkpoint)
    if partitions is not None:
        keys = [encode_pkey(p) for p in partitions]
        if not keys:
            where.conditions.append("1 = 0")
        else:
            where.conditions.append(f"pkey IN ({', '.join(where.mark(k) for k in keys)})")
    if requested_before is not None:
        where.add("requested_at < {}", _time_in(requested_before, to_time, "requested_before"))
    if requested_after is not None:
        where.add("requested_at > {}", _time_in(requested_after, to_time, "requested_after"))
    if run_id is not None:
        where.add("run_id = {}", run_id)


def audit_filter(
    where: Where,
    *,
    approval_id: str | None,
    asset: str | None,
    partition: str | None,
    any_partition: bool,
    run_id: str | None,
) -> None:
    """Add the conditions of ``ApprovalStore.audit`` to ``where``."""
    if approval_id is not None:
        where.add("approval_id = {}", approval_id)
    if asset is not None:
        where.add("asset = {}", asset)
    if partition is not None or not any_partition:
        where.add("pkey = {}", encode_pkey(partition))
    if run_id is not None:
        where.add("run_id = {}", run_id)
