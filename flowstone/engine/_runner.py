"""``Runner``: executes one ``RunSpec`` — the run's records, its supervisor, its scheduler.

The run record goes to ``running`` (a progress marker), the run gets a run supervisor under
the engine tree, the ``Scheduler`` runs the plan, and the final run record is written
durably before the result is returned.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from flowstone.clock import utcnow
from flowstone.engine._events import Event, EventBus
from flowstone.engine._instrumentation import NO_INSTRUMENTATION, Instrumentation
from flowstone.engine._results import RunResult
from flowstone.engine._scheduler import Scheduler, run_status
from flowstone.storage import RunRecord, RunStatus

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from flowstone.engine._lineage_client import LineageClient
    from flowstone.engine._materializer import JobServices
    from flowstone.engine._planning import RunSpec
    from flowstone.engine._registry import RunRegistry
    from flowstone.engine._supervision import EngineTree


def new_run_id() -> str:
    """A fresh run id."""
    return uuid.uuid4().hex[:16]


class Runner:
    """Runs plans of one pipeline under the engine tree."""

    def __init__(
        self,
        pipeline: str,
        tree: EngineTree,
        registry: RunRegistry,
        lineage: LineageClient,
        events: EventBus,
        services: JobServices,
        instrumentation: Instrumentation = NO_INSTRUMENTATION,
    ) -> None:
        self._pipeline = pipeline
        self._instrumentation = instrumentation
        self._tree = tree
        self._registry = registry
        self._lineage = lineage
        self._events = events
        self._services = services

    async def execute(self, spec: RunSpec) -> RunResult:
        """Run every node of ``spec.plan`` in dependency order, independent nodes in
        parallel; return once the run's final record is durable."""
        async with self._instrumentation.run(spec, spec.metadata) as observed:
            metadata = {**spec.metadata, **observed.metadata()}
            result = await self._execute(spec, metadata)
            observed.finish(result.status, result.error)
            return result

    async def _execute(self, spec: RunSpec, metadata: Mapping[str, Any]) -> RunResult:
        started = spec.started_at or utcnow()
        running = self.run_record(spec, RunStatus.RUNNING, started, metadata=metadata)
        self._lineage.record_nowait(running)
        self._publish("run.started", spec.run_id, targets=list(spec.targets))
        run_sup = await self._tree.start_run(spec.run_id)
        self._registry.open_run(spec.run_id)
        ended = False  # the scheduler returned: every job it started has its outcome
        try:
            results, failure = await Scheduler(spec, run_sup, self._registry, self._services).run()
            ended = True
        finally:
            cancelled = self._registry.close_run(spec.run_id)
            await self._tree.end_run(spec.run_id, reuse=ended)
        status = RunStatus.CANCELLED if cancelled else run_status(results, failure)
        final = self.run_record(spec, status, started, finished_at=utcnow(), metadata=metadata)
        await self._lineage.record(final)
        self._publish(f"run.{status}", spec.run_id)
        return RunResult(spec.run_id, status, results, failure)

    def run_record(
        self,
        spec: RunSpec,
        status: RunStatus,
        started: datetime,
        *,
        finished_at: datetime | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """The run record of ``spec`` in ``status``."""
        return RunRecord(
            run_id=spec.run_id,
            pipeline=self._pipeline,
            kind=spec.kind,
            targets=spec.targets,
            status=status,
            started_at=started,
            finished_at=finished_at if status != RunStatus.WAITING else None,
            triggered_by=spec.triggered_by,
            trigger=spec.trigger,
            backfill_id=spec.backfill_id,
            partition=spec.partition,
            tenant=spec.tenant,
            metadata=dict(metadata) if metadata else {},
        )

    def _publish(self, kind: str, run_id: str, **data: Any) -> None:
        if not self._events.active:
            return
        self._events.publish(Event(kind=kind, run_id=run_id, at=utcnow(), data=data))
