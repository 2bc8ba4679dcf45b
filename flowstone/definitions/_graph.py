"""``AssetGraph``: the validated dependency graph of a pipeline.

Every query is linear in the part of the graph it touches (no quadratic algorithms), so
graphs of thousands of assets stay instant. Edges point the way data flows: from an
upstream asset to the assets that depend on it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, final

from flowstone.definitions import _graph_render
from flowstone.errors import AssetNotFound, DefinitionError

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition
    from flowstone.definitions._pipeline import Pipeline
    from flowstone.io import IOOptions


@final
class AssetGraph:
    """The assets of a pipeline and their dependencies; made by ``Pipeline.validate()``.

    Attributes:
        pipeline: the pipeline the graph was built from.
        assets: the assets in the graph, by name, in definition order.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        assets: Iterable[AssetDefinition] | None = None,
        *,
        validated_io_options: Mapping[str, IOOptions] | None = None,
    ) -> None:
        chosen = pipeline.assets.values() if assets is None else assets
        self.pipeline = pipeline
        self.assets: Mapping[str, AssetDefinition] = MappingProxyType({a.name: a for a in chosen})
        self._io_options = dict(validated_io_options or {})
        self._position = {name: i for i, name in enumerate(self.assets)}
        self._parents: dict[str, tuple[str, ...]] = {
            name: tuple(d for d in asset.dep_names() if d in self._position)
            for name, asset in self.assets.items()
        }
        children: dict[str, list[str]] = {name: [] for name in self.assets}
        for name, parents in self._parents.items():
            for parent in parents:
                children[parent].append(name)
        self._children = {name: tuple(kids) for name, kids in children.items()}
        self._order = self._topological_order()
        self._rank = {name: i for i, name in enumerate(self._order)}

    # -- structure ------------------------------------------------------------------------

    def topological_order(self) -> list[str]:
        """Return every asset after all of its dependencies; ties in definition order."""
        return list(self._order)

    def parents(self, name: str) -> tuple[str, ...]:
        """Return the direct dependencies of ``name``, in ``depends_on`` order."""
        return self._parents[self._known(name)]

    def children(self, name: str) -> tuple[str, ...]:
        """Return the assets that depend directly on ``name``, in definition order."""
        return self._children[self._known(name)]

    def upstream_closure(self, names: str | Iterable[str]) -> list[str]:
        """Return ``names`` and everything they depend on, transitively, in topological order."""
        start = [names] if isinstance(names, str) else list(names)
        return self._sorted(self._reach(start, self._parents))

    def downstream_closure(self, name: str) -> list[str]:
        """Return every asset that depends on ``name``, transitively (``name`` excluded), in
        topological order."""
        reached = self._reach([name], self._children)
        reached.discard(name)
        return self._sorted(reached)

    def layers(self) -> list[list[str]]:
        """Return the assets grouped by depth: layer 0 has no dependencies, layer n depends on
        layer n-1 (and maybe earlier ones); each layer in definition order."""
        depth: dict[str, int] = {}
        for name in self._order:
            depth[name] = 1 + max((depth[p] for p in self._parents[name]), default=-1)
        layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for name in self.assets:
            layers[depth[name]].append(name)
        return layers

    def subgraph(self, names: Iterable[str]) -> AssetGraph:
        """Return the graph of ``names`` alone (edges to other assets dropped)."""
        wanted = {self._known(n) for n in names}
        kept = [self.assets[n] for n in self.assets if n in wanted]
        return AssetGraph(self.pipeline, kept, validated_io_options=self._io_options)

    def around(self, name: str) -> AssetGraph:
        """Return the subgraph of ``name`` with its upstream and downstream closures."""
        return self.subgraph([*self.upstream_closure(name), *self.downstream_closure(name)])

    def io_options(self, name: str) -> IOOptions | None:
        """Return the io options of ``name`` as validated by its I/O manager, or None when the
        graph was validated without ``io_managers``."""
        return self._io_options.get(self._known(name))

    # -- rendering ------------------------------------------------------------------------

    def render_ascii(self) -> str:
        """Return a plain-text listing: one line per asset, by layer, with its inputs."""
        return _graph_render.ascii_text(self)

    def render_mermaid(self) -> str:
        """Return a Mermaid ``flowchart`` of the graph."""
        return _graph_render.mermaid(self)

    def render_dot(self) -> str:
        """Return a Graphviz DOT ``digraph`` of the graph."""
        return _graph_render.dot(self)

    def __len__(self) -> int:
        return len(self.assets)

    def __contains__(self, name: object) -> bool:
        return name in self._position

    def __repr__(self) -> str:
        edges = sum(len(p) for p in self._parents.values())
        return f"<AssetGraph {self.pipeline.name!r}: {len(self.assets)} assets, {edges} edges>"

    # -- internals ------------------------------------------------------------------------

    def _known(self, name: str) -> str:
        if name not in self._position:
            raise AssetNotFound(name, list(self.assets), self.pipeline.name)
        return name

    def _reach(self, start: list[str], edges: Mapping[str, tuple[str, ...]]) -> set[str]:
        seen = {self._known(n) for n in start}
        pending = list(seen)
        while pending:
            for other in edges[pending.pop()]:
                if other not in seen:
                    seen.add(other)
                    pending.append(other)
        return seen

    def _sorted(self, names: set[str]) -> list[str]:
        return sorted(names, key=self._rank.__getitem__)

    def _topological_order(self) -> list[str]:
        # Kahn's algorithm with a heap keyed by definition position: deterministic, and the
        # order users wrote their assets in wherever the dependencies allow it.
        waiting = {name: len(parents) for name, parents in self._parents.items()}
        ready = [self._position[n] for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        names = list(self.assets)
        order = []
        while ready:
            name = names[heapq.heappop(ready)]
            order.append(name)
            for child in self._children[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, self._position[child])
        if len(order) != len(names):
            raise DefinitionError(
                "the asset graph has a dependency cycle; call pipeline.validate() to see it"
            )
        return order
