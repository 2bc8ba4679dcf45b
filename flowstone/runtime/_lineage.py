"""Lineage queries: recorded upstream / downstream per partition, impact from the
definitions (including downstream partitions not yet materialized) and staleness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowstone.approvals._lineage_at import lineage_at
from flowstone.engine._node import Node, make_node
from flowstone.engine._results import Materialization

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from flowstone.definitions._graph import AssetGraph
    from flowstone.definitions._pipeline import Pipeline
    from flowstone.engine._catalog import PartitionCatalog
    from flowstone.storage import MaterializationRecord, Storage


@dataclass(frozen=True, slots=True)
class StaleMaterialization:
    """A downstream materialization that no longer reflects its inputs."""

    asset: str
    partition: Any
    reason: str


class AsyncLineage:
    """``rt.lineage`` of an ``AsyncRuntime``: every method is a coroutine."""

    def __init__(
        self,
        pipeline: Pipeline,
        graph: AssetGraph,
        storage: Storage,
        catalog: PartitionCatalog,
        ready: Callable[[], Awaitable[None]],
    ) -> None:
        self._pipeline = pipeline
        self._graph = graph
        self._storage = storage
        self._catalog = catalog
        self._ready = ready

    def _node(self, asset: str, partition: Any) -> Node:
        return make_node(self._pipeline.get(asset), partition)

    def _decode(self, asset: str, encoded: str | None) -> Any:
        return self._catalog.decode(asset, encoded).value

    async def upstream(
        self, asset: str, partition: Any = None, *, as_of: datetime | None = None
    ) -> list[tuple[str, Any]]:
        """Transitive upstream of the latest succeeded materialization, nearest first."""
        await self._ready()
        node = self._node(asset, partition)
        entries = await self._storage.upstream(asset, node.encoded, as_of=as_of)
        return [(e.asset, self._decode(e.asset, e.partition)) for e in entries]

    async def at(self, asset: str, partition: Any, timestamp: datetime) -> Materialization | None:
        """The materialization of ``asset`` current at ``timestamp`` (the newest succeeded
        one finished by then), with the inputs it consumed; None if there was none yet."""
        await self._ready()
        node = self._node(asset, partition)
        return await lineage_at(self._storage, asset, node.encoded, timestamp, self._public)

    def _public(self, record: MaterializationRecord) -> Materialization:
        inputs = [(i.asset, self._decode(i.asset, i.partition)) for i in record.inputs]
        key = self._catalog.decode(record.asset, record.partition)
        return Materialization.from_record(record, key, inputs)

    async def downstream(self, asset: str, partition: Any = None) -> list[tuple[str, Any]]:
        """Recorded materializations that consumed this one, transitively, nearest first."""
        await self._ready()
        node = self._node(asset, partition)
        entries = await self._storage.downstream(asset, node.encoded)
        return [(e.asset, self._decode(e.asset, e.partition)) for e in entries]

    async def impact(self, asset: str, partition: Any = None) -> list[Any]:
        """Assets affected if ``asset`` changes (topological order, itself excluded).

        With ``partition``, return the (asset, partition) pairs affected, following the
        partition mappings, whether or not they were ever materialized.
        """
        self._pipeline.get(asset)
        if partition is None:
            return list(self._graph.downstream_closure(asset))
        return self._impact_partitions(self._node(asset, partition))

    def _impact_partitions(self, start: Node) -> list[tuple[str, Any]]:
        pipeline = self._pipeline
        seen = {start.id}
        frontier = [start]
        found: list[tuple[int, str, str, Any]] = []
        depth = 0
        while frontier:
            depth += 1
            nxt: list[Node] = []
            for node in frontier:
                up_def = pipeline.get(node.asset)
                for child in self._graph.children(node.asset):
                    child_def = pipeline.get(child)
                    keys = _downstream_keys(child_def, node, up_def)
                    for key in keys:
                        n = make_node(child_def, key)
                        if n.id not in seen:
                            seen.add(n.id)
                            nxt.append(n)
                            found.append((depth, n.asset, n.encoded or "", n.key))
            frontier = nxt
        found.sort(key=lambda t: (t[0], t[1], t[2]))
        return [(a, k) for _, a, _, k in found]

    async def stale(self, asset: str | None = None) -> list[StaleMaterialization]:
        """Latest succeeded materializations whose inputs were re-materialized since, or
        whose asset or an input's asset changed ``code_version``."""
        await self._ready()
        names = [asset] if asset else list(self._graph.topological_order())
        stale: list[StaleMaterialization] = []
        for name in names:
            definition = self._pipeline.get(name)
            statuses = await self._storage.latest_statuses(name)
            parts = [p for p, s in statuses.items() if s == "succeeded"]
            if not parts:
                continue
            latest = await self._storage.latest(name, parts)
            for part, record in latest.items():
                reason = await self._stale_reason(definition, record)
                if reason:
                    stale.append(StaleMaterialization(name, self._decode(name, part), reason))
        return stale

    async def _stale_reason(self, definition: Any, record: Any) -> str | None:
        if definition.code_version != record.code_version:
            return (
                f"code_version changed from {record.code_version!r} to {definition.code_version!r}"
            )
        for ref in record.inputs:
            newest = await self._storage.latest(ref.asset, [ref.partition])
            current = newest.get(ref.partition)
            if current is not None and current.id != ref.materialization_id:
                label = ref.asset if ref.partition is None else f"{ref.asset}[{ref.partition}]"
                return f"upstream {label} was re-materialized (run {current.run_id})"
            up_def = self._pipeline.assets.get(ref.asset)
            if (
                current is not None
                and up_def is not None
                and (up_def.code_version != current.code_version)
            ):
                return f"upstream {ref.asset} changed code_version"
        return None


def _downstream_keys(child_def: Any, node: Node, up_def: Any) -> list[Any]:
    if child_def.partitions is None:
        return [None]
    mapping = child_def.mapping_for(up_def.name)
    if up_def.partitions is None:
        return list(child_def.partitions.all())
    return list(mapping.downstream_keys(node.key, up_def.partitions, child_def.partitions))
