"""``IOService``: loads and stores asset values through their I/O managers.

The one place that builds ``IOContext``s and decides where an I/O manager method runs: a
coroutine method on the loop, a plain one inline (``inline`` managers) or in the local
executor's thread pool.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowstone.engine._boundary import Abandoned, StoreGuard, call_user
from flowstone.engine._node import Node, Upstream, labels, shape, value_key
from flowstone.errors import MissingUpstream
from flowstone.io import IOManager
from flowstone.io._manager import IOContext
from flowstone.partitions import PartitionKey

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.definitions._context import AssetContext
    from flowstone.engine._executor import LocalExecutor

AssetLookup = Callable[[str], "AssetDefinition"]


class IOService:
    """Values in and out of I/O managers, for one pipeline."""

    def __init__(
        self,
        pipeline_name: str,
        lookup: AssetLookup,
        managers: Mapping[str, IOManager],
        options: Mapping[str, Any],
        local: LocalExecutor,
    ) -> None:
        self._pipeline = pipeline_name
        self._lookup = lookup
        self._managers = dict(managers)
        self._options = dict(options)
        self._local = local
        self._blocking: dict[tuple[str, ...], bool] = {}

    @property
    def managers(self) -> Mapping[str, IOManager]:
        """The I/O managers by key."""
        return self._managers

    def context(self, asset: AssetDefinition, partition: PartitionKey, run_id: str) -> IOContext:
        """The I/O manager context of one asset partition."""
        return IOContext(
            asset=asset.name,
            partition=partition.value,
            partition_key=partition.encoded,
            run_id=run_id,
            io_options=asset.io_options,
            options=self._options[asset.name],
            pipeline=self._pipeline,
            metadata=asset.metadata,
        )

    async def store(
        self, asset: AssetDefinition, node: Node, run_id: str, value: Any
    ) -> dict[str, Any]:
        """Store ``value`` with the asset's I/O manager; return the metadata to record."""
        manager = self._managers[asset.io_manager]
        meta = await self._io(
            manager, manager.store, self.context(asset, node.partition, run_id), value
        )
        return {"io_manager": asset.io_manager, **(dict(meta) if meta else {})}

    async def load(self, node: Node, run_id: str) -> Any:
        """Load the stored value of ``node``."""
        asset = self._lookup(node.asset)
        manager = self._managers[asset.io_manager]
        return await self._io(manager, manager.load, self.context(asset, node.partition, run_id))

    async def load_upstream(self, up: Upstream, run_id: str, reader: Node) -> Any:
        """Load one dependency's value(s) as ``reader``'s function receives them; many
        partitions come as one table when the I/O manager can load a range at once.

        Raises:
            MissingUpstream: a recorded upstream value cannot be loaded (lost or corrupt).
        """
        if not up.single and len(up.nodes) > 1:
            try:
                batch = await self._load_partitions(up.nodes, run_id)
            except Exception as exc:
                raise unreadable(reader, up.nodes, exc) from exc
            if batch is not None:
                return batch
        loaded = {}
        for n in up.nodes:
            try:
                loaded[value_key(n)] = await self.load(n, run_id)
            except Exception as exc:
                raise unreadable(reader, [n], exc) from exc
        return shape(up, loaded)

    async def _load_partitions(self, nodes: Sequence[Node], run_id: str) -> Any:
        asset = self._lookup(nodes[0].asset)
        manager = self._managers[asset.io_manager]
        method = getattr(manager, "load_partitions", None)
        if method is None:
            return None
        context = self.context(asset, PartitionKey.NONE, run_id)
        return await self._io(manager, method, context, [n.key for n in nodes])

    def all_blocking(self, asset: AssetDefinition, upstreams: Sequence[Upstream]) -> bool:
        """True when the asset function and every I/O manager method it needs are plain
        (non-async) functions, so a whole attempt can run in one worker thread."""
        key = (asset.name, *(up.nodes[0].asset for up in upstreams if up.nodes))
        known = self._blocking.get(key)
        if known is None:
            known = self._blocking[key] = self._find_all_blocking(asset, key[1:])
        return known

    def _find_all_blocking(self, asset: AssetDefinition, upstream_assets: Sequence[str]) -> bool:
        if inspect.iscoroutinefunction(asset.fn):
            return False
        names = [asset.io_manager] + [self._lookup(a).io_manager for a in upstream_assets]
        for name in names:
            manager = self._managers[name]
            if inspect.iscoroutinefunction(manager.store) or inspect.iscoroutinefunction(
                manager.load
            ):
                return False
            if hasattr(manager, "load_partitions"):
                return False
        return True

    def attempt_blocking(
        self,
        asset: AssetDefinition,
        node: Node,
        upstreams: Sequence[Upstream],
        context: AssetContext,
        guard: StoreGuard,
    ) -> dict[str, Any]:
        """Load the inputs, call the function and store its value, all in this (worker)
        thread; return the I/O metadata. See ``all_blocking``; ``guard`` says whether the
        attempt may still store (it may have timed out or been cancelled meanwhile).

        Raises:
            Abandoned: the attempt was abandoned before its store: its value is discarded.
        """
        values: dict[str, Any] = {}
        for up in upstreams:
            loaded = {}
            for n in up.nodes:
                up_asset = self._lookup(n.asset)
                manager = self._managers[up_asset.io_manager]
                try:
                    loaded[value_key(n)] = manager.load(
                        self.context(up_asset, n.partition, context.run_id)
                    )
                except Exception as exc:
                    raise unreadable(node, [n], exc) from exc
            values[up.dep] = shape(up, loaded)
        value = call_user(asset.name, asset.fn, context, **values)
        if not guard.begin_store():
            raise Abandoned(f"{node.label()}: attempt abandoned before its store")
        manager = self._managers[asset.io_manager]
        meta = manager.store(self.context(asset, node.partition, context.run_id), value)
        return {"io_manager": asset.io_manager, **(dict(meta) if meta else {})}

    async def _io(self, manager: IOManager, method: Callable[..., Any], *args: Any) -> Any:
        if inspect.iscoroutinefunction(method):
            return await method(*args)
        if manager.inline:
            return method(*args)
        return await self._local.call_blocking(method, *args)

    async def aclose(self) -> None:
        """Release every I/O manager."""
        for manager in self._managers.values():
            await manager.aclose()


def unreadable(reader: Node, nodes: Sequence[Node], exc: BaseException) -> MissingUpstream:
    """The error for recorded upstream values that cannot be loaded."""
    first = nodes[0]
    part = f", partition={first.encoded!r}" if first.encoded is not None else ""
    return MissingUpstream(
        f"cannot materialize {reader.label()}: upstream {labels(nodes)} has a recorded "
        f"materialization but its stored value cannot be loaded "
        f"({type(exc).__name__}: {exc}); materialize it again with "
        f"rt.materialize({first.asset!r}{part})",
        [(n.asset, n.key) for n in nodes],
    )
