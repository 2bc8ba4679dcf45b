"""Text renderings of an ``AssetGraph``: plain text, Mermaid and Graphviz DOT.

Each is linear in assets + edges. Asset names are ASCII identifiers, so they need no
escaping in any of the three formats; Mermaid ids get a prefix because a node called
``end`` would close a Mermaid block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowstone.definitions._graph import AssetGraph


def ascii_text(graph: AssetGraph) -> str:
    """Return the assets layer by layer, each with the assets it reads (``<-``)."""
    names = list(graph.assets)
    edges = sum(len(graph.parents(n)) for n in names)
    lines = [
        f"pipeline {graph.pipeline.name!r}: {_count(len(names), 'asset')}, "
        f"{_count(edges, 'dependency', 'dependencies')}"
    ]
    width = max((len(n) for n in names), default=0)
    for depth, layer in enumerate(graph.layers()):
        lines.append(f"layer {depth}")
        for name in layer:
            parents = graph.parents(name)
            inputs = f"{'':{width - len(name)}}  <- {', '.join(parents)}" if parents else ""
            lines.append(f"  {name}{inputs}")
    return "\n".join(lines) + "\n"


def mermaid(graph: AssetGraph) -> str:
    """Return a Mermaid flowchart, data flowing left to right."""
    lines = ["flowchart LR"]
    lines += [f'    {_mermaid_id(name)}["{name}"]' for name in graph.assets]
    lines += [
        f"    {_mermaid_id(parent)} --> {_mermaid_id(name)}"
        for name in graph.assets
        for parent in graph.parents(name)
    ]
    return "\n".join(lines) + "\n"


def dot(graph: AssetGraph) -> str:
    """Return a Graphviz digraph, data flowing left to right."""
    lines = [f'digraph "{graph.pipeline.name}" {{', "    rankdir=LR;", "    node [shape=box];"]
    lines += [f'    "{name}";' for name in graph.assets]
    lines += [
        f'    "{parent}" -> "{name}";' for name in graph.assets for parent in graph.parents(name)
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_id(name: str) -> str:
    return f"asset_{name}"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
