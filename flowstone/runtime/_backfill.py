"""Backfills: one run per partition, at most ``max_parallel`` in flight, memory flat in the
number of partitions (partitions are read in chunks from a lazy partition set), and
resumable: partitions whose latest materialization succeeded are skipped.

Every partition's run is a task of one ``asyncio.TaskGroup``: when the backfill is
cancelled (or fails itself), no partition's task is left running.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from flowstone.clock import utcnow
from flowstone.engine._events import Event, EventBus
from flowstone.engine._node import Node, NodeId, make_node
from flowstone.engine._planning import RunSpec
from flowstone.engine._results import BackfillResult, RunResult
from flowstone.engine._runner import new_run_id
from flowstone.errors import ConfigurationError, InvalidPartition, RuntimeStopped
from flowstone.storage import RunStatus
from flowstone.tenancy import current_tenant

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.engine._catalog import PartitionCatalog
    from flowstone.engine._planning import Planner
    from flowstone.engine._record_reader import RecordReader
    from flowstone.engine._runner import Runner

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
        try:
            keys: Iterable[Any] = definition.range(first.strip(), last.strip())
        except InvalidPartition as exc:
            raise InvalidPartition(f"asset {asset.name!r}: {exc}") from None
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


@dataclass
class _Active:
    """A backfill in flight: whether it was cancelled, and its runs in flight."""

    cancelled: bool = False
    runs: set[str] = field(default_factory=set)


class Backfill:
    """Runs backfills with the engine's planner and runner; cancels them as a whole."""

    def __init__(
        self,
        planner: Planner,
        runner: Runner,
        catalog: PartitionCatalog,
        reader: RecordReader,
        events: EventBus,
        cancel_run: Callable[[str], bool],
    ) -> None:
        self._planner = planner
        self._runner = runner
        self._catalog = catalog
        self._reader = reader
        self._events = events
        self._cancel_run = cancel_run
        self._active: dict[str, _Active] = {}

    def cancel(self, backfill_id: str) -> bool:
        """Cancel a backfill in flight: its running partitions are cancelled (and recorded
        so), none starts any more. Return False when no such backfill runs here."""
        active = self._active.get(backfill_id)
        if active is None:
            return False
        active.cancelled = True
        for run_id in list(active.runs):
            self._cancel_run(run_id)
        return True

    def running(self) -> list[str]:
        """The ids of the backfills in flight."""
        return list(self._active)

    async def run(
        self,
        asset: AssetDefinition,
        partitions: Any,
        *,
        max_parallel: int = 10,
        force: bool = False,
        triggered_by: str | None = None,
    ) -> BackfillResult:
        """Materialize ``asset`` for every partition (see the module docstring)."""
        if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
            raise ConfigurationError(
                f"backfill of {asset.name!r}: max_parallel must be a positive int, "
                f"got {max_parallel!r}"
            )
        backfill_id = uuid.uuid4().hex[:12]
        who = triggered_by or f"backfill:{backfill_id}"
        result = BackfillResult(backfill_id)
        keys = partition_keys(asset, partitions)
        total = len(keys) if isinstance(keys, Sized) else None
        self._publish("backfill.started", backfill_id, asset.name, total=total)
        slots = asyncio.Semaphore(max_parallel)
        active = self._active[backfill_id] = _Active()
        started = 0
        try:
            async with asyncio.TaskGroup() as group:
                for chunk in _chunks(keys, CHUNK):
                    nodes = await self._to_run(asset, chunk, force, result)
                    # One query per upstream asset for the whole chunk, not per partition.
                    checked = await self._planner.prefetch(nodes) if nodes else {}
                    for node in nodes:
                        await slots.acquire()
                        if active.cancelled:
                            slots.release()
                            break
                        started += 1
                        task = self._one(node, backfill_id, who, result, slots, checked, active)
                        group.create_task(task)
                    if active.cancelled:
                        break
        except* RuntimeStopped as stopped:
            # Not a partition's failure: nothing can run any more (issue 12).
            raise stopped.exceptions[0] from None
        finally:
            del self._active[backfill_id]
        if active.cancelled:
            done = started + len(result.skipped)
            result = replace(result, not_started=total - done if total is not None else None)
        self._publish(
            "backfill.finished",
            backfill_id,
            asset.name,
            succeeded=len(result.succeeded),
            failed=len(result.failed),
            skipped=len(result.skipped),
        )
        return result

    async def _to_run(
        self, asset: AssetDefinition, chunk: list[Any], force: bool, result: BackfillResult
    ) -> list[Node]:
        nodes = [make_node(asset, k) for k in chunk]
        for n in nodes:
            self._catalog.check(asset, n)
        if force:
            return nodes
        done = await self._reader.latest_succeeded(nodes)
        result.skipped.extend(n.key for n in nodes if n.encoded in done)
        return [n for n in nodes if n.encoded not in done]

    async def _one(
        self,
        node: Node,
        backfill_id: str,
        who: str,
        result: BackfillResult,
        slots: asyncio.Semaphore,
        checked: Mapping[NodeId, bool],
        active: _Active,
    ) -> None:
        run_id = new_run_id()
        active.runs.add(run_id)
        try:
            plan = await self._planner.closure([node], only_missing=True, checked=checked)
            spec = RunSpec(
                run_id=run_id,
                kind="backfill",
                targets=(node.asset,),
                plan=plan,
                triggered_by=who,
                trigger="backfill",
                backfill_id=backfill_id,
                partition=node.encoded,
                tenant=current_tenant(),
            )
            run = await self._runner.execute(spec)
            if run.success:
                result.succeeded.append(node.key)
            elif run.status == RunStatus.CANCELLED:
                result.cancelled.append(node.key)
            else:
                result.failed.append(node.key)
                result.errors[str(node.encoded)] = _first_error(run)
        except RuntimeStopped:
            raise
        except Exception as exc:
            result.failed.append(node.key)
            result.errors[str(node.encoded)] = f"{type(exc).__name__}: {exc}"
        finally:
            active.runs.discard(run_id)
            slots.release()
            self._publish(
                "backfill.progress",
                backfill_id,
                node.asset,
                partition=node.encoded,
                succeeded=len(result.succeeded),
                failed=len(result.failed),
            )

    def _publish(self, kind: str, backfill_id: str, asset: str, **data: Any) -> None:
        if not self._events.active:
            return
        self._events.publish(
            Event(kind=kind, run_id=backfill_id, at=utcnow(), asset=asset, data=data)
        )


def _first_error(run: RunResult) -> str:
    for m in run.materializations:
        if m.error is not None:
            return f"{m.asset}: {m.error.type}: {m.error.message}"
    if run.error is not None:
        return f"{type(run.error).__name__}: {run.error}"
    return f"run {run.run_id} {run.status}"
