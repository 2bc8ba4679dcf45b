"""``rt.audit.report(asset, partition)``: what was produced, from what, and who approved it.

The report is plain JSON-able data built from the record store alone:

- ``current``: the newest succeeded materialization, with the SHA-256 its I/O manager
  recorded of the stored bytes (``digest``);
- ``executions``: every recorded attempt, newest first;
- ``inputs``: the materializations the current one consumed, each with its digest;
- ``lineage``: the whole recorded upstream, nearest first, with digests;
- ``approvals``: every checkpoint gate on that lineage (and the asset itself, if it is
  one) for the partitions involved, with its audit trail.

So a reviewer can show which bytes were approved, by whom, and what was built from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowstone.approvals._approval import approval_of
from flowstone.storage import AuditEntry, MaterializationRecord, Storage

if TYPE_CHECKING:
    from flowstone.approvals._wing import ApprovalsWing

DIGEST_KEY = "sha256"


class AsyncAudit:
    """``rt.audit`` of an ``AsyncRuntime``."""

    def __init__(self, wing: ApprovalsWing) -> None:
        self._wing = wing

    async def report(self, asset: str, partition: Any = None) -> dict[str, Any]:
        """Return the audit report of one asset partition (see the module for its parts).

        Raises:
            AssetNotFound, InvalidPartition.
        """
        await self._wing.ready()
        key = self._wing.encode(asset, partition)
        storage = self._wing.storage
        attempts = await storage.materializations(asset=asset, partition=key, any_partition=False)
        current = next((m for m in attempts if m.status == "succeeded"), None)
        lineage = await storage.upstream(asset, key)
        records = await _records(storage, [(e.asset, e.partition) for e in lineage])
        by_id = {r.id: r for r in records}
        inputs = [] if current is None else current.inputs
        gates = [(asset, key)] + [(e.asset, e.partition) for e in lineage]
        return {
            "asset": asset,
            "partition": key,
            "generated_at": self._wing.now().isoformat(),
            "current": None if current is None else _execution(current),
            "executions": [_execution(m) for m in attempts],
            "inputs": [
                {
                    "asset": i.asset,
                    "partition": i.partition,
                    "materialization_id": i.materialization_id,
                    "digest": _digest(by_id.get(i.materialization_id or "")),
                }
                for i in inputs
            ],
            "lineage": [
                {
                    "asset": e.asset,
                    "partition": e.partition,
                    "depth": e.depth,
                    "materialization_id": e.materialization_id,
                    "digest": _digest(by_id.get(e.materialization_id or "")),
                }
                for e in lineage
            ],
            "approvals": await self._approvals(gates),
        }

    async def _approvals(self, nodes: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
        gates = [
            (name, key)
            for name, key in dict.fromkeys(nodes)
            if name in self._wing.pipeline and self._wing.pipeline.get(name).checkpoint
        ]
        store = self._wing.store
        found: list[dict[str, Any]] = []
        for name, key in gates:
            for record in await store.list_approvals(
                open_only=False, checkpoint=name, partitions=[key]
            ):
                trail = await store.audit(approval_id=record.id)
                approval = approval_of(record, self._wing.decode).to_json()
                found.append({**approval, "audit": [audit_json(e) for e in trail]})
        return found


async def _records(
    storage: Storage, nodes: list[tuple[str, str | None]]
) -> list[MaterializationRecord]:
    found: list[MaterializationRecord] = []
    for asset, key in dict.fromkeys(nodes):
        found += await storage.materializations(
            asset=asset, partition=key, any_partition=False, status="succeeded"
        )
    return found


def _execution(record: MaterializationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "run_id": record.run_id,
        "status": str(record.status),
        "attempt": record.attempt,
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
        "triggered_by": record.triggered_by,
        "code_version": record.code_version,
        "digest": _digest(record),
        "error": None if record.error is None else f"{record.error.type}: {record.error.message}",
    }


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """Return one audit row as JSON-able data."""
    return {
        "seq": entry.seq,
        "event": entry.event,
        "actor": entry.actor,
        "at": _iso(entry.at),
        "reason": entry.reason,
        "before_digest": entry.before_digest,
        "after_digest": entry.after_digest,
        "run_id": entry.run_id,
        "asset": entry.asset,
        "partition": entry.partition,
        "approval_id": entry.approval_id,
        "detail": dict(entry.detail),
    }


def _digest(record: MaterializationRecord | None) -> str | None:
    if record is None:
        return None
    value = record.metadata.get(DIGEST_KEY)
    return f"sha256:{value}" if isinstance(value, str) else None


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
