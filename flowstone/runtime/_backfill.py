"""Backfills: one run per partition, at most ``max_parallel`` in flight, memory flat in the
number of partitions (partitions are read in chunks from a lazy partition set), and
resumable: partitions whose latest materialization succeeded are skipped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sized
from typing import TYPE_CHECKING, Any

from flowstone.engine._events import Event
from flowstone.engine._node import Node, make_node
from flowstone.engine._planning import NodeId, plan_closure, prefetch_succeeded
from flowstone.engine._results import BackfillResult
from flowstone.engine._scheduler import RunSpec
from flowstone.errors import InvalidPartition
from flowstone.tenancy import current_tenant

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.engine._engine import Engine

CHUNK = 512


def partition_keys(asset: AssetDefinition, partitions: Any) -> Iterable[Any]:
    """Interpret ``partitions``: a PartitionSet, an iterable of keys, or ``"first..last"``."""
    definition = asset.partitions
    if definition is None:
        raise InvalidPartition(
            f"asset {asset.name!r} is not partitioned; backfill needs a partitioned asset "
            f"(use materialize({asset.name!r}) instead)"
        )
    if isinstance(partitions, str):
        if ".." not in partitions:
            return [partitions]
        first, _, last = partitions.partition("..")
        keys: Iterable[Any] = definition.range(first.strip(), last.strip())
        return keys
    if partitions is None:
        raise InvalidPartition(
            f"backfill of {asset.name!r} needs partitions: a list of keys, a range such as "
            f"'{definition.example()}..{definition.example()}', or "
            f"pipeline.get({asset.name!r}).partitions.range(first, last)"
        )
    given: Iterable[Any] = partitions
    return given


def _chunks(keys: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for key in keys:
        chunk.append(key)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def run_backfill(
    engine: Engine,
    asset: AssetDefinition,
    partitions: Any,
    *,
    max_parallel: int = 10,
    force: bool = False,
    triggered_by: str | None = None,
) -> BackfillResult:
    """Materialize ``asset`` for every partition (see the module docstring)."""
    if not isinstance(max_parallel, int) or max_parallel < 1:
        raise ValueError(f"max_parallel must be a positive int, got {max_parallel!r}")
    backfill_id = uuid.uuid4().hex[:12]
    who = triggered_by or f"backfill:{backfill_id}"
    result = BackfillResult(backfill_id)
    slots = asyncio.Semaphore(max_parallel)
    tasks: set[asyncio.Task[None]] = set()
    keys = partition_keys(asset, partitions)
    total = len(keys) if isinstance(keys, Sized) else None
    _publish(engine, "backfill.started", backfill_id, asset.name, total=total)
    try:
        for chunk in _chunks(keys, CHUNK):
            nodes = [make_node(asset, k) for k in chunk]
            for n in nodes:
                engine.check_dynamic(asset, n)
            if not force:
                done = await engine.latest_succeeded(nodes)
                for n in nodes:
                    if n.encoded in done:
                        result.skipped.append(n.key)
                nodes = [n for n in nodes if n.encoded not in done]
            # One query per upstream asset for the whole chunk instead of one per partition.
            checked = await prefetch_succeeded(engine, nodes) if nodes else {}
            for node in nodes:
                await slots.acquire()
                one = _one(engine, node, backfill_id, who, result, slots, checked)
                task = asyncio.ensure_future(one)
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*list(tasks))
    finally:
        for task in tasks:
            task.cancel()
    _publish(
        engine,
        "backfill.finished",
        backfill_id,
        asset.name,
        succeeded=len(result.succeeded),
        failed=len(result.failed),
        skipped=len(result.skipped),
    )
    return result


async def _one(
    engine: Engine,
    node: Node,
    backfill_id: str,
    who: str,
    result: BackfillResult,
    slots: asyncio.Semaphore,
    checked: Mapping[NodeId, bool],
) -> None:
    try:
        plan = await plan_closure(engine, [node], only_missing=True, checked=checked)
        spec = RunSpec(
            run_id=engine.new_run_id(),
            kind="backfill",
            targets=(node.asset,),
            plan=plan,
            triggered_by=who,
            trigger="backfill",
            backfill_id=backfill_id,
            partition=node.encoded,
            tenant=current_tenant(),
        )
        run = await engine.execute(spec)
        if run.success:
            result.succeeded.append(node.key)
        else:
            result.failed.append(node.key)
            result.errors[str(node.encoded)] = _first_error(run)
    except Exception as exc:
        result.failed.append(node.key)
        result.errors[str(node.encoded)] = f"{type(exc).__name__}: {exc}"
    finally:
        slots.release()
        _publish(
            engine,
            "backfill.progress",
            backfill_id,
            node.asset,
            partition=node.encoded,
            succeeded=len(result.succeeded),
            failed=len(result.failed),
        )


def _first_error(run: Any) -> str:
    for m in run.materializations:
        if m.error is not None:
            return f"{m.asset}: {m.error.type}: {m.error.message}"
    if run.error is not None:
        return f"{type(run.error).__name__}: {run.error}"
    return f"run {run.run_id} {run.status}"


def _publish(engine: Engine, kind: str, backfill_id: str, asset: str, **data: Any) -> None:
    if not engine.events.active:
        return
    from datetime import UTC, datetime

    engine.events.publish(
        Event(kind=kind, run_id=backfill_id, at=datetime.now(UTC), asset=asset, data=data)
    )
