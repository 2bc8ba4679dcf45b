"""``AsyncRuntime``: the runtime as coroutines, for use inside an event loop.

Construction validates the whole pipeline (``DefinitionError`` lists every problem); the
supervision tree and the record store start on first use (or ``async with``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowstone.engine._engine import Engine
from flowstone.engine._node import make_node
from flowstone.engine._planning import plan_closure, plan_single
from flowstone.engine._results import BackfillResult, Materialization, RunResult
from flowstone.engine._scheduler import RunSpec
from flowstone.errors import DefinitionError, DefinitionProblem, RunFailed
from flowstone.io import FilesystemIOManager, IOManager, MemoryIOManager
from flowstone.runtime._backfill import run_backfill
from flowstone.runtime._lineage import AsyncLineage
from flowstone.status import PartitionStatus, partition_status, prepare_ranges, register_orders
from flowstone.storage import open_storage
from flowstone.tenancy import current_tenant, without_tenant


class AsyncRuntime:
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
    """

    def __init__(
        self,
        pipeline: Any,
        storage: str | None = None,
        io_managers: Mapping[str, IOManager] | None = None,
        resources: Mapping[str, Any] | None = None,
        ray_address: str | None = None,
        *,
        base_dir: str | os.PathLike[str] = ".flowstone",
        max_workers: int | None = None,
        user: str | None = None,
    ) -> None:
        from flowstone.definitions._resources import ResourceManager

        self.pipeline = pipeline
        self.base_dir = Path(base_dir)
        self.ray_address = ray_address
        managers: dict[str, IOManager] = {
            "memory": MemoryIOManager(),
            "fs": FilesystemIOManager(self.base_dir / "storage"),
        }
        managers.update(io_managers or {})
        self.graph = pipeline.validate(io_managers=managers, resources=resources or {})
        if any(a.executor == "ray" for a in pipeline.assets.values()):
            from flowstone.engine._ray import ray_problems

            problems = ray_problems(pipeline.assets, managers)
            if problems:
                raise DefinitionError([DefinitionProblem(p) for p in problems])
        options = {name: self.graph.io_options(name) for name in pipeline.assets}
        self.storage = open_storage(storage, base_dir=self.base_dir)
        self._resources = ResourceManager(resources or {})
        self.engine = Engine(
            pipeline,
            self.storage,
            managers,
            options,
            self._resources,
            max_workers=max_workers,
            user=user,
        )
        self.engine.ray_address = ray_address  # type: ignore[attr-defined]
        self.events = self.engine.events
        self.partition_orders = register_orders(
            self.storage, pipeline, lambda name: self.engine.dynamic.get(name, [])
        )
        self.lineage = AsyncLineage(self.engine, self.graph, self.start)
        self._started = False
        self._closed = False
        self._lock: asyncio.Lock | None = None

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, set up resources and start the supervision tree (idempotent)."""
        if self._started:
            return
        if self._closed:
            raise RuntimeError("this runtime is closed; create a new one")
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
        await self.engine.start()
        await prepare_ranges(self.storage, self.partition_orders)
        await self._resources.start()

    async def close(self) -> None:
        """Cancel runs in flight, stop the tree, tear resources down, close the store."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            await self.engine.close()
            await self._resources.close()

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
        plan = await plan_single(self.engine, node)
        return await self._run("materialize", (asset,), plan, node.encoded)

    async def materialize_all(self, asset: str, partition: Any = None) -> RunResult:
        """Materialize ``asset`` and its whole upstream closure in one run (DAG order,
        independent assets in parallel)."""
        await self.start()
        node = self._node(asset, partition)
        plan = await plan_closure(self.engine, [node], only_missing=False)
        return await self._run("materialize_all", (asset,), plan, node.encoded)

    def _node(self, asset: str, partition: Any) -> Any:
        definition = self.pipeline.get(asset)
        node = make_node(definition, partition)
        self.engine.check_dynamic(definition, node)
        return node

    async def _run(self, kind: str, targets: tuple[str, ...], plan: Any, part: Any) -> RunResult:
        engine = self.engine
        spec = RunSpec(
            run_id=engine.new_run_id(),
            kind=kind,
            targets=targets,
            plan=plan,
            triggered_by=f"{engine.user}@{engine.host}",
            partition=part,
            tenant=current_tenant(),
        )
        result = await engine.execute(spec)
        if not result.success:
            raise RunFailed(_failure_message(result), result)
        return result

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
        return await run_backfill(
            self.engine,
            self.pipeline.get(asset),
            partitions,
            max_parallel=max_parallel,
            force=force,
        )

    async def cancel(self, run_id: str) -> bool:
        """Cancel a run in flight; return False when it is not running here."""
        return await self.engine.cancel(run_id)

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
        return [self.engine.to_materialization(r) for r in records]

    async def runs(self, limit: int = 50, status: str | None = None) -> list[Any]:
        """Recorded runs, newest first."""
        await self.start()
        return await self.storage.list_runs(limit=limit, status=status)

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
        return await self.engine.add_dynamic_partitions(name, keys)


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
