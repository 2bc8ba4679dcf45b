"""Executing a recorded (queued or interrupted) run by its id, for the daemon.

Until the engine's own ``AsyncRuntime.resume(run_id)`` exists (docs/architecture.md on the
redesign), this plans the recorded run as the runtime would have (``materialize``,
``materialize_all``, or one backfill partition) and executes it under its recorded id. It
does not skip nodes already succeeded in this run except the target itself: a run whose
target already succeeded is only marked succeeded. ``RuntimeLauncher`` prefers
``runtime.resume`` when the runtime has it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flowstone.automation._errors import RunNotFound
from flowstone.engine._node import make_node
from flowstone.engine._planning import plan_closure, plan_single
from flowstone.engine._scheduler import RunSpec
from flowstone.storage import WriteBatch

if TYPE_CHECKING:
    from flowstone.runtime._runtime import AsyncRuntime


async def resume_recorded_run(runtime: AsyncRuntime, run_id: str) -> str:
    """Execute the recorded run ``run_id`` on ``runtime``; return its final status."""
    await runtime.start()
    record = await runtime.storage.get_run(run_id)
    if record is None:
        raise RunNotFound(run_id)
    if record.status in ("succeeded", "failed", "cancelled"):
        return record.status
    asset = record.targets[0]
    done = await runtime.storage.materializations(
        run_id=run_id, asset=asset, partition=record.partition,
        any_partition=record.partition is not None, status="succeeded", limit=1,
    )  # fmt: skip
    if done:
        finished = replace(record, status="succeeded", finished_at=datetime.now(UTC))
        await runtime.storage.write(WriteBatch(runs=(finished,)))
        return "succeeded"
    definition = runtime.pipeline.get(asset)
    key = None
    if record.partition is not None and definition.partitions is not None:
        key = definition.partitions.decode(record.partition)
    node = make_node(definition, key)
    engine = runtime.engine
    if record.kind == "materialize":
        plan = await plan_single(engine, node)
    else:
        plan = await plan_closure(engine, [node], only_missing=record.kind == "backfill")
    spec = RunSpec(
        run_id=record.run_id,
        kind=record.kind,
        targets=record.targets,
        plan=plan,
        triggered_by=record.triggered_by,
        trigger=record.trigger,
        backfill_id=record.backfill_id,
        partition=record.partition,
        tenant=record.tenant,
    )
    result = await engine.execute(spec)
    return result.status
