"""What the dashboard's JSON endpoints return, read from the runtime and its record store.

Every view costs O(what it shows): asset statuses come from the store's status ranges,
listings are limited, lineage is paged. Nothing here enumerates partitions.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from flowstone import AsyncRuntime
from flowstone.errors import InvalidPartition
from flowstone.status import PartitionStatus, describe_tree, partition_status
from flowstone.storage import MaterializationRecord, RunLogLine, RunRecord

LIVE_SECONDS = 10.0
RUN_LOG_LINES = 500
"""The run page shows the newest this many log lines (`flowstone logs` shows them all)."""
"""A runtime whose last report is older than this is not shown (it reports every 2 s)."""


def iso(value: datetime | None) -> str | None:
    """An instant as ISO 8601 (or None)."""
    return value.isoformat() if value is not None else None


def record_json(m: MaterializationRecord) -> dict[str, Any]:
    """One materialization attempt, with its error."""
    error = None
    if m.error is not None:
        error = {"type": m.error.type, "message": m.error.message, "traceback": m.error.traceback}
    return {
        "id": m.id,
        "run_id": m.run_id,
        "asset": m.asset,
        "partition": m.partition,
        "attempt": m.attempt,
        "status": m.status,
        "started_at": iso(m.started_at),
        "finished_at": iso(m.finished_at),
        "duration": m.duration,
        "triggered_by": m.triggered_by,
        "inputs": [[i.asset, i.partition] for i in m.inputs],
        "metadata": dict(m.metadata),
        "error": error,
    }


def log_json(line: RunLogLine) -> dict[str, Any]:
    """A captured log line for the run page."""
    return {
        "at": iso(line.at),
        "level": line.level,
        "logger": line.logger,
        "message": line.message,
        "asset": line.asset,
        "partition": line.partition,
        "attempt": line.attempt,
    }


def run_json(r: RunRecord) -> dict[str, Any]:
    """One run."""
    return {
        "run_id": r.run_id,
        "kind": r.kind,
        "targets": list(r.targets),
        "status": r.status,
        "partition": r.partition,
        "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at),
        "triggered_by": r.triggered_by,
        "backfill_id": r.backfill_id,
        "error": None if r.error is None else {"type": r.error.type, "message": r.error.message},
    }


class Views:
    """The read side of the dashboard over one runtime."""

    def __init__(self, runtime: AsyncRuntime) -> None:
        self.rt = runtime
        self.storage = runtime.storage

    async def _running(self) -> list[RunRecord]:
        return await self.storage.list_runs(limit=1000, status="running")

    async def status(self, asset: str, running: list[RunRecord] | None = None) -> PartitionStatus:
        """The partition status of one asset (runs in flight laid over)."""
        if running is None:
            running = await self._running()
        keys = [r.partition for r in running if asset in r.targets]
        order = self.rt.partition_orders[asset]
        return await partition_status(self.storage, asset, order, running=keys)

    async def overview(self) -> dict[str, Any]:
        """Running runs, recent failures and the pending approvals."""
        running, recent, failed = await asyncio.gather(
            self._running(),
            self.storage.list_runs(limit=20),
            self.storage.materializations(status="failed", limit=20),
        )
        return {
            "pipeline": self.rt.pipeline.name,
            "assets": len(self.rt.pipeline.assets),
            "running": [run_json(r) for r in running[:100]],
            "recent_runs": [run_json(r) for r in recent],
            "recent_failures": [record_json(m) for m in failed],
        }

    async def graph(self) -> dict[str, Any]:
        """Every asset with its dependencies and a status summary."""
        running = await self._running()
        nodes = []
        for name in self.rt.graph.topological_order():
            a = self.rt.pipeline.get(name)
            status = await self.status(name, running)
            nodes.append(
                {
                    "name": name,
                    "deps": list(a.dep_names()),
                    "group": a.group,
                    "partitions": a.partitions.describe() if a.partitions else None,
                    "description": a.description,
                    "counts": status.counts,
                    "total": status.total,
                }
            )
        return {"nodes": nodes}

    async def asset(self, name: str) -> dict[str, Any]:
        """One asset: definition, partition health (compact ranges) and recent attempts."""
        a = self.rt.pipeline.get(name)
        status, records = await asyncio.gather(
            self.status(name), self.storage.materializations(asset=name, limit=50)
        )
        return {
            "name": name,
            "deps": list(a.dep_names()),
            "downstream": [
                n
                for n in self.rt.graph.topological_order()
                if name in self.rt.pipeline.get(n).dep_names()
            ],
            "group": a.group,
            "description": a.description,
            "partitions": a.partitions.describe() if a.partitions else None,
            "io_manager": a.io_manager,
            "status": status.to_json(),
            "materializations": [record_json(m) for m in records],
        }

    async def partition(self, name: str, ordinal: int) -> dict[str, Any]:
        """The key numbered ``ordinal`` of an asset and its newest attempts."""
        order = self.rt.partition_orders[name]
        try:
            key = order.encoded_at(ordinal)
        except (IndexError, InvalidPartition, ValueError):
            return {"ordinal": ordinal, "key": None, "materializations": []}
        records = await self.storage.materializations(
            asset=name, partition=key, any_partition=False, limit=5
        )
        return {
            "ordinal": ordinal,
            "key": key,
            "materializations": [record_json(m) for m in records],
        }

    async def runs(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Runs, newest first."""
        return [run_json(r) for r in await self.storage.list_runs(limit=limit, status=status)]

    async def run(self, run_id: str) -> dict[str, Any] | None:
        """One run with every attempt of every node."""
        record = await self.storage.get_run(run_id)
        if record is None:
            return None
        attempts = await self.storage.materializations(run_id=run_id, limit=5000)
        # Stored while the run goes on (docs/observability.md): a running run shows the
        # lines of its last batch.
        lines = await self.storage.run_logs(run_id, limit=RUN_LOG_LINES)
        return {
            **run_json(record),
            "materializations": [record_json(m) for m in attempts],
            "logs": [log_json(line) for line in lines],
            "logs_limit": RUN_LOG_LINES,
        }

    async def lineage(
        self, asset: str, partition: str | None, direction: str, offset: int, limit: int
    ) -> dict[str, Any]:
        """One page of the upstream or downstream of an asset partition."""
        self.rt.pipeline.get(asset)
        if direction == "down":
            entries = await self.storage.downstream(asset, partition)
        else:
            entries = await self.storage.upstream(asset, partition)
        page = entries[offset : offset + limit]
        return {
            "asset": asset,
            "partition": partition,
            "direction": direction,
            "total": len(entries),
            "offset": offset,
            "entries": [
                {"asset": e.asset, "partition": e.partition, "depth": e.depth} for e in page
            ],
        }

    async def supervision(self) -> dict[str, Any]:
        """The live supervision tree of this server's runtime, and the trees other runtimes
        of the pipeline published in the last ``LIVE_SECONDS`` (``TreeReporter``)."""
        root = self.rt.engine.tree.root
        own = await describe_tree("root", root) if root is not None else None
        since = datetime.now(UTC) - timedelta(seconds=LIVE_SECONDS)
        others = [
            {
                "id": r.id,
                "host": r.host,
                "pid": r.pid,
                "started_at": iso(r.started_at),
                "seen_at": iso(r.seen_at),
                "tree": dict(r.tree),
            }
            for r in await self.storage.runtimes(seen_after=since)
            if r.id != self.rt.tree_reporter.id
        ]
        return {"tree": own, "runtimes": others}
