"""The engine: the supervision tree, the shared services every materialization uses
(storage reads, I/O managers, the lineage actor, executors, resources, the event bus) and
the scheduling of a run's nodes in dependency order.

Supervision tree (one per runtime)::

    root (one_for_one)
    ├── lineage        LineageWriter: the single writer of records (group commit)
    └── runs           DynamicSupervisor: one child per run in flight
        └── run:<id>   DynamicSupervisor: one Materializer per (asset, partition) in flight
"""

from __future__ import annotations

import asyncio
import getpass
import inspect
import itertools
import logging
import socket
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import actors
import supervisors
from flowstone.engine._events import Event, EventBus
from flowstone.engine._executor import Executor, LocalExecutor
from flowstone.engine._lineage_writer import LineageWriter, Record, record_durably
from flowstone.engine._materializer import Job
from flowstone.engine._node import Node, labels
from flowstone.engine._results import Materialization, RunResult, materialization_of
from flowstone.engine._scheduler import RunSpec, Scheduler, run_status
from flowstone.errors import ConfigurationError, FlowStoneError, MissingUpstream
from flowstone.io._manager import IOContext, IOManager
from flowstone.storage import MaterializationRecord, RunRecord, Storage

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.definitions._pipeline import Pipeline

log = logging.getLogger("flowstone.engine")

RECENT_KEPT = 4_096
"""How many of its newest succeeded materializations an engine remembers (``recent``)."""
_engine_ids = itertools.count(1)


class Engine:
    """Internal: shared by ``AsyncRuntime``; one per runtime."""

    def __init__(
        self,
        pipeline: Pipeline,
        storage: Storage,
        io_managers: Mapping[str, IOManager],
        io_options: Mapping[str, Any],
        resources: Any,
        *,
        max_workers: int | None = None,
        user: str | None = None,
        executors: Mapping[str, Executor] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.storage = storage
        self.io_managers = dict(io_managers)
        self.io_options = dict(io_options)
        self.resources = resources
        self.events = EventBus()
        self.user = user or _user()
        self.host = socket.gethostname()
        self.tag = f"{pipeline.name}#{next(_engine_ids)}"
        self.local = LocalExecutor(max_workers)
        self.executors: dict[str, Executor] = {"local": self.local, **(executors or {})}
        self.inflight: dict[tuple[str, str | None], asyncio.Future[Materialization]] = {}
        self.recent: OrderedDict[tuple[str, str | None], Materialization] = OrderedDict()
        """The newest succeeded materializations this engine made, newest last (at most
        ``RECENT_KEPT``): a node planned because it was missing is skipped when one of these
        shows that another run of this runtime has made it since."""
        self.jobs: dict[str, set[Job]] = {}
        self.dynamic: dict[str, list[str]] = {}
        self.cancelled: set[str] = set()
        self.runs: dict[str, supervisors.DynamicSupervisorRef] = {}
        self.root: supervisors.SupervisorRef | None = None
        self._blocking: dict[tuple[str, ...], bool] = {}
        """``all_blocking`` answers per (asset, upstream assets): functions and I/O managers
        do not change while the engine runs."""
        self._runs_sup: supervisors.DynamicSupervisorRef | None = None

    @property
    def lineage_name(self) -> str:
        """The registered name of this engine's lineage actor."""
        return f"flowstone:{self.tag}:lineage"

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start the supervision tree."""
        await self.storage.open()
        for name in _dynamic_names(self.pipeline):
            self.dynamic[name] = await self.storage.dynamic_partitions(name)
        holder: dict[str, supervisors.DynamicSupervisorRef] = {}

        async def start_runs() -> actors.ActorRef:
            ref = await supervisors.DynamicSupervisor.start(
                max_restarts=10, max_seconds=5.0, name=f"flowstone:{self.tag}:runs"
            )
            holder["runs"] = ref
            return ref

        self.root = await supervisors.Supervisor.start(
            [
                supervisors.ChildSpec(
                    "lineage",
                    lambda: actors.spawn(
                        LineageWriter, self.storage, self._in_flight, name=self.lineage_name
                    ),
                ),
                supervisors.ChildSpec("runs", start_runs, type="supervisor"),
            ],
            strategy="one_for_one",
            max_restarts=5,
            max_seconds=10.0,
            name=f"flowstone:{self.tag}:root",
        )
        self._holder = holder

    def _in_flight(self) -> int:
        return len(self.inflight)

    @property
    def runs_supervisor(self) -> supervisors.DynamicSupervisorRef:
        """The dynamic supervisor of runs (re-read: it may have been restarted)."""
        return self._holder["runs"]

    async def close(self) -> None:
        """Cancel the runs in flight, stop the tree, then release everything."""
        for run_id in list(self.jobs):
            await self.cancel(run_id)
        if self.root is not None and self.root.alive:
            await self.root.stop("shutdown", timeout=30.0)
        for executor in self.executors.values():
            await executor.aclose()
        for manager in self.io_managers.values():
            await manager.aclose()
        await self.storage.close()

    # -- services used by jobs --------------------------------------------------------------

    async def record(self, record: MaterializationRecord | RunRecord) -> None:
        """Write ``record`` through the lineage actor; return once it is durable."""
        kind = "run" if isinstance(record, RunRecord) else "materialization"
        delay = 0.005
        for _ in range(12):
            ref = actors.whereis(self.lineage_name)
            if ref is not None:
                try:
                    await record_durably(ref, record, timeout=120.0)  # StorageError: refused
                    return
                except actors.NoProc:
                    pass  # the writer crashed; its supervisor restarts it; retry (idempotent)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise FlowStoneError(
            f"could not record {kind} {getattr(record, 'id', getattr(record, 'run_id', ''))}: "
            f"the lineage writer kept failing (storage {self.storage.url!r})"
        )

    def record_nowait(self, record: RunRecord) -> None:
        """Queue a run record without waiting (progress markers, not guarantees)."""
        ref = actors.whereis(self.lineage_name)
        if ref is not None:
            ref.cast(Record(record))

    def remember_succeeded(self, node: Node, result: Materialization) -> None:
        """Note that this engine made ``node`` (see ``recent``)."""
        recent = self.recent
        recent[node.id] = result
        recent.move_to_end(node.id)
        if len(recent) > RECENT_KEPT:
            recent.popitem(last=False)

    async def latest_succeeded(
        self, nodes: Sequence[Node]
    ) -> dict[str | None, MaterializationRecord]:
        """Newest succeeded record per node (nodes must share one asset)."""
        if not nodes:
            return {}
        return await self.storage.latest(nodes[0].asset, [n.encoded for n in nodes])

    def dynamic_keys(self, definition: Any) -> Any:
        """The stored keys a definition needs for "every key" questions (None if static)."""
        from flowstone.partitions import DynamicPartitions, MultiPartitions

        if isinstance(definition, DynamicPartitions):
            return self.dynamic.get(definition.name, [])
        if isinstance(definition, MultiPartitions):
            found = {
                dim: self.dynamic.get(d.name, [])
                for dim, d in definition.dimensions.items()
                if isinstance(d, DynamicPartitions)
            }
            return found or None
        return None

    async def add_dynamic_partitions(self, name: str, keys: Sequence[str]) -> list[str]:
        """Persist new keys of a dynamic partitions set and refresh the cache."""
        from flowstone.partitions import DynamicPartitions

        keys = DynamicPartitions(name).check_new_keys(keys)  # InvalidPartition, as everywhere
        added = await self.storage.add_dynamic_partitions(name, keys)
        self.dynamic[name] = await self.storage.dynamic_partitions(name)
        return added

    def check_dynamic(self, asset: AssetDefinition, node: Node) -> None:
        """Refuse a dynamic partition key that was never added."""
        from flowstone.errors import InvalidPartition
        from flowstone.partitions import DynamicPartitions

        definition = asset.partitions
        if not isinstance(definition, DynamicPartitions):
            return
        known = self.dynamic.get(definition.name, [])
        if node.key not in known:
            raise InvalidPartition(
                f"asset {asset.name!r}: partition {node.key!r} is not a key of dynamic "
                f"partitions {definition.name!r} ({len(known)} keys stored); add it first "
                f"with rt.add_dynamic_partitions({definition.name!r}, [{node.key!r}])"
            )

    def io_context(self, asset: AssetDefinition, node: Node, run_id: str) -> IOContext:
        """Build the I/O manager context of ``node``."""
        return IOContext(
            asset=asset.name,
            partition=node.key,
            partition_key=node.encoded,
            run_id=run_id,
            io_options=asset.io_options,
            options=self.io_options[asset.name],
            pipeline=self.pipeline.name,
            metadata=asset.metadata,
        )

    async def store_value(
        self, asset: AssetDefinition, node: Node, run_id: str, value: Any
    ) -> dict[str, Any]:
        """Store ``value`` with the asset's I/O manager; return the metadata to record."""
        manager = self.io_managers[asset.io_manager]
        meta = await self._io(manager, manager.store, self.io_context(asset, node, run_id), value)
        return {"io_manager": asset.io_manager, **(dict(meta) if meta else {})}

    async def load_value(self, node: Node, run_id: str) -> Any:
        """Load the stored value of ``node``."""
        asset = self.pipeline.get(node.asset)
        manager = self.io_managers[asset.io_manager]
        return await self._io(manager, manager.load, self.io_context(asset, node, run_id))

    async def load_partitions(self, nodes: Sequence[Node], run_id: str) -> Any:
        """Load many partitions of one asset as one value, when its I/O manager supports
        ``load_partitions`` (Parquet: one table); None otherwise."""
        asset = self.pipeline.get(nodes[0].asset)
        manager = self.io_managers[asset.io_manager]
        method = getattr(manager, "load_partitions", None)
        if method is None:
            return None
        context = self.io_context(asset, Node(asset.name, None, None), run_id)
        return await self._io(manager, method, context, [n.key for n in nodes])

    def all_blocking(self, asset: AssetDefinition, upstreams: Sequence[Any]) -> bool:
        """True when the asset function and every I/O manager method it needs are plain
        (non-async) functions, so a whole attempt can run in one worker thread."""
        key = (asset.name, *(up.nodes[0].asset for up in upstreams if up.nodes))
        known = self._blocking.get(key)
        if known is None:
            known = self._blocking[key] = self._all_blocking(asset, key[1:])
        return known

    def _all_blocking(self, asset: AssetDefinition, upstream_assets: Sequence[str]) -> bool:
        if inspect.iscoroutinefunction(asset.fn):
            return False
        names = [asset.io_manager] + [self.pipeline.get(a).io_manager for a in upstream_assets]
        for name in names:
            manager = self.io_managers[name]
            if inspect.iscoroutinefunction(manager.store) or inspect.iscoroutinefunction(
                manager.load
            ):
                return False
            if hasattr(manager, "load_partitions"):
                return False
        return True

    def attempt_blocking(
        self, asset: AssetDefinition, node: Node, upstreams: Sequence[Any], context: Any
    ) -> dict[str, Any]:
        """Load the inputs, call the function and store its value, all in this (worker)
        thread; return the I/O metadata. See ``all_blocking``."""
        from flowstone.engine._materializer import shape, value_key

        values: dict[str, Any] = {}
        for up in upstreams:
            loaded = {}
            for n in up.nodes:
                up_asset = self.pipeline.get(n.asset)
                manager = self.io_managers[up_asset.io_manager]
                loaded[value_key(n)] = manager.load(self.io_context(up_asset, n, context.run_id))
            values[up.dep] = shape(up, loaded)
        value = asset.fn(context, **values)
        manager = self.io_managers[asset.io_manager]
        meta = manager.store(self.io_context(asset, node, context.run_id), value)
        return {"io_manager": asset.io_manager, **(dict(meta) if meta else {})}

    async def _io(self, manager: IOManager, method: Any, *args: Any) -> Any:
        if inspect.iscoroutinefunction(method):
            return await method(*args)
        if manager.inline:
            return method(*args)
        return await self.local.call_blocking(method, *args)

    def resources_for(self, asset: AssetDefinition) -> Mapping[str, Any]:
        """The resources ``asset`` declared, and only those."""
        declared: Mapping[str, Any] = self.resources.for_asset(asset)
        return declared

    def executor_for(self, asset: AssetDefinition) -> Executor:
        """The executor ``asset`` asked for (Ray is started on first use)."""
        executor = self.executors.get(asset.executor)
        if executor is None:
            executor = self._load_executor(asset.executor)
        return executor

    def _load_executor(self, name: str) -> Executor:
        if name == "ray":
            try:
                from flowstone.engine._ray import RayExecutor
            except ImportError as exc:
                raise ConfigurationError("executor 'ray' is not available: " + str(exc)) from exc
            executor: Executor = RayExecutor(self)
            self.executors[name] = executor
            return executor
        raise ConfigurationError(f"unknown executor {name!r}; expected 'local' or 'ray'")

    def missing_upstream(self, node: Node, missing: Sequence[Node]) -> MissingUpstream:
        """The error for a node whose upstream partitions were never materialized."""
        part = f", partition={node.key!r}" if node.encoded is not None else ""
        cli_part = f" --partition {node.encoded}" if node.encoded is not None else ""
        return MissingUpstream(
            f"cannot materialize {node.label()}: upstream {labels(missing)} "
            f"{'has' if len(missing) == 1 else 'have'} no successful materialization; "
            f"materialize the upstream first with rt.materialize_all({node.asset!r}{part}) "
            f"or `flowstone materialize {node.asset}{cli_part} --with-upstream`",
            [(n.asset, n.key) for n in missing],
        )

    def to_materialization(self, record: MaterializationRecord) -> Materialization:
        """Turn a stored record into the public ``Materialization`` (decoded keys)."""
        partition = self.decode(record.asset, record.partition)
        inputs = [(i.asset, self.decode(i.asset, i.partition)) for i in record.inputs]
        return materialization_of(record, partition, inputs)

    def decode(self, asset: str, encoded: str | None) -> Any:
        """Decode a stored partition key of ``asset`` (unknown assets keep the string)."""
        if encoded is None:
            return None
        definition = self.pipeline.assets.get(asset)
        if definition is None or definition.partitions is None:
            return encoded
        try:
            return definition.partitions.decode(encoded)
        except Exception:
            return encoded

    # -- runs -------------------------------------------------------------------------------

    def new_run_id(self) -> str:
        """A fresh, sortable-enough run id."""
        return uuid.uuid4().hex[:16]

    def run_record(self, spec: RunSpec, status: str, started: datetime, **extra: Any) -> RunRecord:
        """The run record of ``spec`` in ``status``."""
        return RunRecord(
            run_id=spec.run_id,
            pipeline=self.pipeline.name,
            kind=spec.kind,
            targets=spec.targets,
            status=status,
            started_at=started,
            finished_at=extra.pop("finished_at", None),
            triggered_by=spec.triggered_by,
            trigger=spec.trigger,
            backfill_id=spec.backfill_id,
            partition=spec.partition,
            tenant=spec.tenant,
            **extra,
        )

    async def execute(self, spec: RunSpec) -> RunResult:
        """Run every node of ``spec.plan`` in dependency order, independent nodes in parallel."""
        started = datetime.now(UTC)
        self.record_nowait(self.run_record(spec, "running", started))
        self._publish("run.started", spec.run_id, targets=list(spec.targets))
        run_sup = await self._start_run_supervisor(spec.run_id)
        self.jobs[spec.run_id] = set()
        try:
            results, failure = await Scheduler(self, spec, run_sup).run()
        finally:
            self.runs.pop(spec.run_id, None)
            self.jobs.pop(spec.run_id, None)
            if run_sup.alive:
                await run_sup.stop("shutdown", timeout=float("inf"))
        status = run_status(results, failure)
        if spec.run_id in self.cancelled:
            self.cancelled.discard(spec.run_id)
            status = "cancelled"
        finished = datetime.now(UTC)
        await self.record(self.run_record(spec, status, started, finished_at=finished))
        self._publish(f"run.{status}", spec.run_id)
        return RunResult(spec.run_id, status, results, failure)

    async def _start_run_supervisor(self, run_id: str) -> supervisors.DynamicSupervisorRef:
        holder: dict[str, supervisors.DynamicSupervisorRef] = {}

        async def start() -> actors.ActorRef:
            ref = await supervisors.DynamicSupervisor.start(
                max_restarts=3, max_seconds=5.0, name=f"flowstone:{self.tag}:run:{run_id}"
            )
            holder["ref"] = ref
            return ref

        await self.runs_supervisor.start_child(
            supervisors.ChildSpec(run_id, start, restart="temporary", type="supervisor")
        )
        self.runs[run_id] = holder["ref"]
        return holder["ref"]

    async def cancel(self, run_id: str) -> bool:
        """Cancel a run in flight: running attempts are interrupted and recorded as
        cancelled, and nothing else of the run starts."""
        jobs = self.jobs.get(run_id)
        if jobs is None:
            return False
        self.cancelled.add(run_id)
        for job in list(jobs):
            job.cancel()
        return True

    def _publish(self, kind: str, run_id: str, **data: Any) -> None:
        if not self.events.active:
            return
        self.events.publish(Event(kind=kind, run_id=run_id, at=datetime.now(UTC), data=data))


def _dynamic_names(pipeline: Any) -> set[str]:
    from flowstone.partitions import DynamicPartitions, MultiPartitions

    names: set[str] = set()
    for asset in pipeline.assets.values():
        definition = asset.partitions
        if isinstance(definition, DynamicPartitions):
            names.add(definition.name)
        elif isinstance(definition, MultiPartitions):
            names.update(
                d.name for d in definition.dimensions.values() if isinstance(d, DynamicPartitions)
            )
    return names


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
