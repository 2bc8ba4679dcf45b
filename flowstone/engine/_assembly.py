"""``EngineAssembly``: builds the engine's collaborators for one runtime and wires them.

This is the composition root: each collaborator is handed, at construction, exactly the
others it uses; at run time nobody reaches through the assembly (the runtime asks it only
for the entry points: ``planner``, ``runner``, ``reader``, ``catalog``, ``registry``).

    planner   Planner          which nodes a call runs (reads success records)
    runner    Runner           executes a RunSpec: run records, run supervisor, Scheduler
    registry  RunRegistry      nodes in flight, jobs per run, cancellation, recent successes
    tree      EngineTree       the supervision tree (lineage writer, runs, services)
    lineage   LineageClient    durable record writes through the lineage actor
    reader    RecordReader     success lookups, records -> Materialization
    catalog   PartitionCatalog dynamic partition keys, decoding stored keys
    io        IOService        values in and out of I/O managers
    executors Executors        local thread pool / coroutines, Ray on first use
"""

from __future__ import annotations

import getpass
import itertools
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowstone.engine._catalog import PartitionCatalog
from flowstone.engine._events import EventBus
from flowstone.engine._executor import Executor, Executors, LocalExecutor
from flowstone.engine._gate import GateKeeper, NoGateKeeper
from flowstone.engine._io_service import IOService
from flowstone.engine._lineage_client import LineageClient
from flowstone.engine._materializer import JobServices, Resources
from flowstone.engine._planning import Planner
from flowstone.engine._record_reader import RecordReader
from flowstone.engine._registry import RunRegistry
from flowstone.engine._runner import Runner
from flowstone.engine._supervision import EngineTree
from flowstone.io import IOManager
from flowstone.storage import Storage

if TYPE_CHECKING:
    from flowstone.definitions._pipeline import Pipeline

_engine_ids = itertools.count(1)


@dataclass(frozen=True)
class EngineSettings:
    """Who runs the engine and where its Ray steps go."""

    user: str | None = None
    max_workers: int | None = None
    ray_address: str | None = None
    gatekeeper: GateKeeper | None = None
    """Decides at checkpoint gates (the approvals wing); None: reaching a gate is an error."""


@dataclass(frozen=True)
class EngineAssembly:
    """The wired collaborators of one runtime's engine (see the module docstring)."""

    planner: Planner
    runner: Runner
    registry: RunRegistry
    tree: EngineTree
    lineage: LineageClient
    reader: RecordReader
    catalog: PartitionCatalog
    io: IOService
    executors: Executors
    events: EventBus
    storage: Storage
    user: str
    host: str

    @classmethod
    def build(
        cls,
        pipeline: Pipeline,
        storage: Storage,
        io_managers: Mapping[str, IOManager],
        io_options: Mapping[str, Any],
        resources: Resources,
        settings: EngineSettings,
    ) -> EngineAssembly:
        """Construct and wire every collaborator (nothing starts yet)."""
        tag = f"{pipeline.name}#{next(_engine_ids)}"
        user, host = settings.user or _user(), socket.gethostname()
        registry = RunRegistry()
        tree = EngineTree(tag, storage, registry.in_flight)
        lineage = LineageClient(tree.lineage_name, storage.url, tree.stopped)
        catalog = PartitionCatalog(pipeline.assets, storage)
        reader = RecordReader(storage, catalog)
        local = LocalExecutor(settings.max_workers)
        io = IOService(pipeline.name, pipeline.get, io_managers, io_options, local)

        def load_ray() -> Executor:
            from flowstone.engine._ray import RayExecutor

            return RayExecutor(
                pipeline.name, pipeline.assets, io, resources, ray_address=settings.ray_address
            )

        executors = Executors(local, load_ray)
        events = EventBus()
        services = JobServices(
            pipeline=pipeline.name,
            lookup=pipeline.get,
            io=io,
            lineage=lineage,
            records=reader,
            catalog=catalog,
            executors=executors,
            registry=registry,
            events=events,
            resources=resources,
            user=user,
            host=host,
            gatekeeper=settings.gatekeeper or NoGateKeeper(),
        )
        return cls(
            planner=Planner(pipeline.get, reader, catalog.stored_keys),
            runner=Runner(pipeline.name, tree, registry, lineage, events, services),
            registry=registry,
            tree=tree,
            lineage=lineage,
            reader=reader,
            catalog=catalog,
            io=io,
            executors=executors,
            events=events,
            storage=storage,
            user=user,
            host=host,
        )

    async def start(self) -> None:
        """Open the store, load the dynamic partition keys, start the supervision tree."""
        await self.storage.open()
        await self.catalog.load()
        await self.tree.start()

    async def close(self) -> None:
        """Cancel the runs in flight, stop the tree, then release everything."""
        for run_id in self.registry.running():
            self.registry.cancel(run_id)
        await self.tree.stop()
        await self.executors.aclose()
        await self.io.aclose()
        await self.storage.close()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
