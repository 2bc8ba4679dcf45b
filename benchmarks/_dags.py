"""DAG shapes of trivial assets, as plain data every system can build from.

A ``DagSpec`` lists ``(name, dependencies)`` in topological order and ends with one ``sink``
asset that depends on every asset nothing else depends on, so materializing the sink with its
upstream closure runs the whole DAG. The same JSON form is sent to the Dagster side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

SINK = "sink"
LAYER_WIDTH = 10


@dataclass(frozen=True)
class DagSpec:
    """A named DAG: ``assets`` in topological order, the last one being ``SINK``."""

    shape: str
    assets: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def size(self) -> int:
        return len(self.assets)

    @property
    def label(self) -> str:
        return f"{self.shape} {self.size:,}"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "assets": [[name, list(deps)] for name, deps in self.assets]}


def _with_sink(nodes: Sequence[tuple[str, tuple[str, ...]]], shape: str) -> DagSpec:
    """Append the sink over every node that nothing depends on."""
    used = {dep for _, deps in nodes for dep in deps}
    leaves = tuple(name for name, _ in nodes if name not in used)
    return DagSpec(shape, (*nodes, (SINK, leaves)))


def chain(size: int) -> DagSpec:
    """a0 -> a1 -> ... -> sink: every asset waits for the previous one."""
    nodes = [(f"a{i}", (f"a{i - 1}",) if i else ()) for i in range(size - 1)]
    return _with_sink(nodes, "chain")


def diamond(size: int) -> DagSpec:
    """One source, ``size - 2`` independent middles that read it, one sink that reads them all."""
    nodes: list[tuple[str, tuple[str, ...]]] = [("a0", ())]
    nodes += [(f"a{i}", ("a0",)) for i in range(1, size - 1)]
    return _with_sink(nodes, "diamond")


def layered(size: int, width: int = LAYER_WIDTH) -> DagSpec:
    """Layers of ``width`` assets; asset j of a layer reads assets j and j+1 of the previous."""
    nodes: list[tuple[str, tuple[str, ...]]] = []
    for i in range(size - 1):
        layer, j = divmod(i, width)
        if layer == 0:
            deps: tuple[str, ...] = ()
        else:
            base = (layer - 1) * width
            deps = (f"a{base + j}", f"a{base + (j + 1) % width}")
        nodes.append((f"a{i}", deps))
    return _with_sink(nodes, "layered")


def fanout(size: int, width: int = LAYER_WIDTH) -> DagSpec:
    """A tree from one source: every asset is read by the next ``width`` assets not yet
    placed (a0 by a1..a10, a1 by a11..a20, ...), so the frontier widens tenfold per level;
    the sink reads every leaf."""
    nodes: list[tuple[str, tuple[str, ...]]] = [("a0", ())]
    nodes += [(f"a{i}", (f"a{(i - 1) // width}",)) for i in range(1, size - 1)]
    return _with_sink(nodes, "fanout")


SHAPES: dict[str, Callable[[int], DagSpec]] = {
    "chain": chain,
    "diamond": diamond,
    "layered": layered,
    "fanout": fanout,
}


def trivial(*inputs: Any) -> int:
    """The work every asset does: nothing worth measuring."""
    return 1


def run_plain(spec: DagSpec) -> dict[str, Any]:
    """The floor: call every asset function in order, passing upstream values."""
    values: dict[str, Any] = {}
    for name, deps in spec.assets:
        values[name] = trivial(*[values[dep] for dep in deps])
    return values
