"""``AsyncRuntime``: the runtime as coroutines, for use inside an event loop.

Construction validates the whole pipeline (``DefinitionError`` lists every problem) and
assembles the engine; the supervision tree and the record store start on first use (or
``async with``). Each public call goes down one way: plan (``Planner``), execute
(``Runner``), read records (``RecordReader``) — see docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowstone.approvals import ApprovalsWing, Notifier
from flowstone.approvals._wait import wait_for_run
from flowstone.automation._handoff import ResumeHandOff
from flowstone.definitions._resources import ResourceManager
from flowstone.engine._assembly import EngineAssembly, EngineSettings
from flowstone.engine._node import Node, make_node
from flowstone.engine._planning import Plan, RunSpec
from flowstone.engine._results import BackfillResult, Materialization, RunResult
from flowstone.engine._runner import new_run_id
from flowstone.errors import (
    DefinitionError,
    DefinitionProblem,
    FlowStoneError,
    MissingUpstream,
    RunFailed,
    RuntimeStopped,
)
from flowstone.io import FilesystemIOManager, IOManager, MemoryIOManager
from flowstone.partitions import DynamicPartitions
from flowstone.runtime._backfill import Backfill
from flowstone.runtime._lineage import AsyncLineage
from flowstone.runtime._queue_methods import QueueMethods
from flowstone.status import (
    PartitionStatus,
    TreeReporter,
    partition_status,
    prepare_ranges,
    register_orders,
)
from flowstone.storage import MemoryStorage, RunLogLine, RunRecord, RunStatus, open_storage
from flowstone.telemetry import Telemetry
from flowstone.tenancy import current_tenant, without_tenant

if TYPE_CHECKING:
    import supervisors
    from actors import ActorRef
    from flowstone.definitions._pipeline import Pipeline
    from flowstone.engine._events import EventBus
    from flowstone.engine._gate import GateKeeper


class AsyncRuntime(QueueMethods):
    """Materialize assets of ``pipeline`` and query what was recorded (async API).

    Args:
        pipeline: the ``fs.Pipeline`` to run.
        storage: ``"sqlite:///PATH"`` (default ``<base_dir>/flowstone.db``), ``"memory"`` or
            ``"postgresql://..."``.
        io_managers: extra or replacement I/O managers by key (``"memory"`` and ``"fs"``
            always exist; ``"fs"`` writes under ``<base_dir>/storage``).
        resources: objects or ``fs.ResourceDefinition``s injected into the assets that
            declare them.
        ray_address: ``None`` starts a local Ray only when a Ray asset runs; ``"auto"`` or
            an address connects to that cluster.
        base_dir: where the embedded defaults keep their files.
        max_workers: size of the thread pool that runs plain (non-async) asset functions.
        user: who the records say ran the work (default: the OS user).
        gatekeeper: decides at checkpoint gates (default: the approvals wing's).
        notifiers: told when a checkpoint gate is requested, escalated or decided.
        telemetry: where traces and metrics go (``fs.Telemetry``); None follows the standard
            ``OTEL_*`` environment (off unless it configures an exporter). Run logs are
            captured either way (docs/observability.md).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        storage: str | None = None,
        io_managers: Mapping[str, IOManager] | None = None,
        resources: Mapping[str, Any] | None = None,
        ray_address: str | None = None,
        *,
        base_dir: str | os.PathLike[str] = ".flowstone",
        max_workers: int | None = None,
        user: str | None = None,
        gatekeeper: GateKeeper | None = None,
        notifiers: Sequence[Notifier] = (),
        telemetry: Telemetry | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.base_dir = Path(base_dir)
        self.ray_address = ray_address
        managers: dict[str, IOManager] = {
            "memory": MemoryIOManager(),
            "fs": FilesystemIOManager(self.base_dir / "storage"),
        }
        managers.update(io_managers or {})
        self.graph = pipeline.validate(io_managers=managers, resources=resources or {})
        _check_ray_assets(pipeline, managers)
        options = {name: self.graph.io_options(name) for name in pipeline.assets}
        self.storage = open_storage(storage, base_dir=self.base_dir, pipeline=pipeline.name)
        self._resources = ResourceManager(resources or {})
        # Checkpoint gates (flowstone/approvals): the gatekeeper, rt.approvals, rt.audit;
        # a decision made through this runtime resumes its run here.
        self.gates = ApprovalsWing(pipeline, self.storage, notifiers=notifiers, ready=self.start)
        self.gates.resume = self.resume
        if not isinstance(self.storage, MemoryStorage):
            # With a shared store, a decision continues the run through the run queue.
            self.gates.hand_off = ResumeHandOff(pipeline.name, self._queue_store, self.resume)
        self.approvals, self.audit = self.gates.approvals, self.gates.audit
        gatekeeper = gatekeeper if gatekeeper is not None else self.gates.gatekeeper
        self._owns_telemetry = telemetry is None
        self.telemetry = Telemetry.from_environment() if telemetry is None else telemetry
        self._instrumentation = self.telemetry.instrument(self.storage)
        self._engine = EngineAssembly.build(
            pipeline,
            self.storage,
            managers,
            options,
            self._resources,
            EngineSettings(
                user=user,
                max_workers=max_workers,
                ray_address=ray_address,
                gatekeeper=gatekeeper,
                instrumentation=self._instrumentation,
            ),
        )
        self.events: EventBus = self._engine.events
        self.lineage = AsyncLineage(
            pipeline, self.graph, self.storage, self._engine.catalog, self.start
        )
        self._backfill = Backfill(
            self._engine.planner,
            self._engine.runner,
            self._engine.catalog,
            self._engine.reader,
            self.events,
            self._engine.registry.cancel,
        )
        self.tree_reporter = TreeReporter(
            self.storage, pipeline.name, lambda: self._engine.tree.root
        )
        self.partition_orders = register_orders(
            self.storage,
            pipeline,
            lambda name: self._engine.catalog.stored_keys(DynamicPartitions(name)),
        )
        self._started = False
        self._closed = False
        self._start_failure: str | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def engine(self) -> EngineAssembly:
        """Internal, not part of the public API: the wired engine, for inspection (the
        supervision tree, what is in flight) by tests and the dashboard."""
        return self._engine

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, set up resources and start the supervision tree (idempotent).

        Raises:
            RuntimeStopped: the runtime could not start, or was closed after a failed start.
        """
        if self._started:
            return
        if self._closed:
            if self._start_failure is not None:
                raise RuntimeStopped(self._start_failure)
            raise FlowStoneError("this runtime is closed; create a new one")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._started:
                return
            # Started outside any tenant scope: the tree and the lineage writer serve all.
            await asyncio.get_running_loop().create_task(
                self._start_services(), context=without_tenant()
            )
            self._started = True

    async def _start_services(self) -> None:
        try:
            await self._engine.start()
            await prepare_ranges(self.storage, self.partition_orders)
            await self._resources.start()
            await self._start_wings()
        except BaseException as exc:
            # Release the store (its threads and files) and the tree (issue 12, item 13).
            self._closed = True
            self._start_failure = f"this runtime could not start: {type(exc).__name__}: {exc}"
            await self._engine.close()
            await self._resources.close()
            raise

    async def _start_wings(self) -> None:
        """Start the long-lived actors of other wings (see ``start_service``)."""
        await self.gates.start(self.start_service)
        self.tree_reporter.start()  # publishes the tree for dashboards in other processes

    async def start_service(self, spec: supervisors.ChildSpec) -> ActorRef:
        """Start a long-lived actor under this runtime's root supervisor."""
        return await self._engine.tree.start_service(spec)

    async def close(self) -> None:
        """Cancel runs in flight, stop the tree, tear resources down, close the store."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            await self.tree_reporter.stop()  # before the tree stops: it calls the supervisors
            await self.gates.close()
            await self._close_queue()
            await self._engine.close()
            await self._resources.close()
        self._instrumentation.close()
        if self._owns_telemetry:
            await asyncio.to_thread(self.telemetry.shutdown)

    async def __aenter__(self) -> AsyncRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- materializing ------------------------------------------------------------------------

    async def materialize(self, asset: str, partition: Any = None) -> RunResult:
        """Materialize ``asset`` only; its inputs must have been materialized before.

        Raises:
            AssetNotFound, InvalidPartition, MissingUpstream, RunFailed.
        """
        await self.start()
        node = self._node(asset, partition)
        plan = await self._engine.planner.single(node)
        return await self._run("materialize", node, plan)

    async def materialize_all(self, asset: str, partition: Any = None) -> RunResult:
        """Materialize ``asset`` and its whole upstream closure in one run (DAG order,
        independent assets in parallel)."""
        await self.start()
        node = self._node(asset, partition)
        plan = await self._engine.planner.closure([node], only_missing=False)
        return await self._run("materialize_all", node, plan)

    def _node(self, asset: str, partition: Any) -> Node:
        definition = self.pipeline.get(asset)
        node = make_node(definition, partition)
        self._engine.catalog.check(definition, node)
        return node

    async def _run(self, kind: str, node: Node, plan: Plan) -> RunResult:
        engine = self._engine
        spec = RunSpec(
            run_id=new_run_id(),
            kind=kind,
            targets=(node.asset,),
            plan=plan,
            triggered_by=f"{engine.user}@{engine.host}",
            partition=node.encoded,
            tenant=current_tenant(),
        )
        result = await engine.runner.execute(spec)
        if result.status in (RunStatus.FAILED, RunStatus.CANCELLED):
            failed = RunFailed(_failure_message(result), result)
            missing = self._missing_upstream(result)
            if missing is not None:
                raise missing from failed
            raise failed
        return result

    def _missing_upstream(self, result: RunResult) -> MissingUpstream | None:
        """``MissingUpstream`` again, when that is why the run failed (an input recorded
        but unreadable), from what its failed attempt recorded."""
        for made in reversed(result.materializations):
            if made.error is None or made.error.type != "MissingUpstream":
                continue
            pairs = made.metadata.get("missing") or []
            decode = self._engine.catalog.decode
            missing = [(asset, decode(asset, key).value) for asset, key in pairs]
            return MissingUpstream(made.error.message, missing)
        return None

    async def backfill(
        self,
        asset: str,
        partitions: Any,
        max_parallel: int = 10,
        *,
        force: bool = False,
    ) -> BackfillResult:
        """Materialize ``asset`` for each partition, upstream partitions it needs first.

        Never raises for asset failures (see ``.failed`` and ``.errors``); re-running it
        resumes: partitions whose latest materialization succeeded are skipped unless
        ``force=True``. At most ``max_parallel`` partitions run at once.
        """
        await self.start()
        return await self._backfill.run(
            self.pipeline.get(asset), partitions, max_parallel=max_parallel, force=force
        )

    async def resume(self, run_id: str) -> RunResult:
        """Execute the recorded run ``run_id`` again from where it stopped.

        Works for a run that never started (queued), one left waiting, and one interrupted
        by a crash: its targets are planned again, and every node that already succeeded
        in this run is not redone (its record is its dependents' input); new attempts are
        numbered after the recorded ones. Does not raise for a failed run: read
        ``result.status``.

        Raises:
            FlowStoneError: no run ``run_id`` is recorded, or it belongs to another pipeline.
        """
        await self.start()
        record = await self.storage.get_run(run_id)
        if record is None or record.pipeline != self.pipeline.name:
            raise FlowStoneError(
                f"cannot resume run {run_id!r}: no such run of pipeline "
                f"{self.pipeline.name!r} is recorded"
            )
        plan = await self._plan_recorded(record)
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
            started_at=record.started_at if record.status != RunStatus.QUEUED else None,
            metadata=record.metadata,
        )
        return await self._engine.runner.execute(spec)

    async def _plan_recorded(self, record: RunRecord) -> Plan:
        catalog, planner = self._engine.catalog, self._engine.planner
        targets = [Node(a, catalog.decode(a, record.partition)) for a in record.targets]
        if record.kind == "materialize":
            plan = Plan()
            for target in targets:
                plan.add(target)
        else:
            plan = await planner.closure(targets, only_missing=record.kind == "backfill")
        recorded = await self.storage.materializations(run_id=record.run_id)
        reader = self._engine.reader
        for made in recorded:
            nid = (made.asset, made.partition)
            plan.attempts_before[nid] = max(plan.attempts_before.get(nid, 0), made.attempt)
            if made.status == "succeeded" and nid in plan.nodes:
                plan.done[nid] = reader.to_materialization(made)
        return plan

    async def wait(self, run_id: str, timeout: float | None = None) -> RunResult:
        """Wait until run ``run_id`` is neither running nor waiting at a gate (another
        process may be the one continuing it) and return its result.

        Raises:
            RunNotFound: no such run. WaitTimeout: ``timeout`` seconds passed first.
        """
        await self.start()
        convert = self._engine.reader.to_materialization
        return await wait_for_run(self.storage, run_id, convert, timeout=timeout)

    async def cancel(self, run_id: str) -> bool:
        """Cancel a run or a whole backfill: in flight here (running attempts are
        interrupted and recorded as cancelled, nothing else of it starts; re-running a
        backfill resumes it), queued, or running in a daemon (which sees the request at its
        next heartbeat). Return False when there is nothing with that id to cancel."""
        if self._engine.registry.cancel(run_id) or self._backfill.cancel(run_id):
            return True
        return await self._cancel_queued(run_id)

    async def cancel_backfills(self) -> list[str]:
        """Cancel every backfill in flight here; return their ids."""
        ids = self._backfill.running()
        for backfill_id in ids:
            self._backfill.cancel(backfill_id)
        return ids

    # -- records ----------------------------------------------------------------------------

    async def materializations(
        self,
        asset: str,
        partition: Any = None,
        *,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Materialization]:
        """Recorded attempts of ``asset`` (one partition when given), newest first."""
        await self.start()
        definition = self.pipeline.get(asset)
        encoded = None
        if partition is not None:
            encoded = make_node(definition, partition).encoded
        records = await self.storage.materializations(
            asset=asset,
            partition=encoded,
            any_partition=partition is None,
            status=status,
            limit=limit,
        )
        return [self._engine.reader.to_materialization(r) for r in records]

    async def load_value(self, asset: str, partition: Any = None) -> Any:
        """Load the stored value of an asset partition through its I/O manager."""
        await self.start()
        node = self._node(asset, partition)
        return await self._engine.io.load(node, "load")

    async def runs(self, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        """Recorded runs, newest first."""
        await self.start()
        return await self.storage.list_runs(limit=limit, status=status)

    async def logs(self, run_id: str, *, limit: int | None = None) -> list[RunLogLine]:
        """The log lines captured during run ``run_id``, oldest first (the newest ``limit``
        when given); stored in batches while the run goes on (``fs.Telemetry``'s
        ``log_flush_seconds``, 1 s) and the rest when it (or each resumption of it) ends."""
        await self.start()
        return await self.storage.run_logs(run_id, limit=limit)

    async def partition_status(self, asset: str) -> PartitionStatus:
        """The status of every partition of ``asset`` as ranges, plus counts (succeeded,
        failed, running, waiting, missing); O(ranges), never O(partitions)."""
        await self.start()
        self.pipeline.get(asset)  # AssetNotFound with suggestions
        running = [
            r.partition
            for r in await self.storage.list_runs(limit=10_000, status="running")
            if asset in r.targets
        ]
        return await partition_status(
            self.storage, asset, self.partition_orders[asset], running=running
        )

    async def add_dynamic_partitions(self, name: str, keys: list[str]) -> list[str]:
        """Add keys to a dynamic partitions set; return the new ones."""
        await self.start()
        return await self._engine.catalog.add(name, keys)


def _check_ray_assets(pipeline: Pipeline, managers: Mapping[str, IOManager]) -> None:
    if any(a.executor == "ray" for a in pipeline.assets.values()):
        from flowstone.engine._ray import ray_problems

        problems = ray_problems(pipeline.assets, managers)
        if problems:
            raise DefinitionError([DefinitionProblem(p) for p in problems])


def _failure_message(result: RunResult) -> str:
    failed = [m for m in result.materializations if m.status != "succeeded"]
    if failed:
        m = failed[-1]
        label = m.asset if m.partition_key is None else f"{m.asset}[{m.partition_key}]"
        err = f"{m.error.type}: {m.error.message}" if m.error else m.status
        return (
            f"run {result.run_id} {result.status}: {label} failed after {m.attempt} "
            f"attempt(s): {err}"
        )
    if result.error is not None:
        return f"run {result.run_id} {result.status}: {result.error}"
    return f"run {result.run_id} {result.status}"


__all__ = ("AsyncRuntime", "DefinitionError")
