"""Find every dependency cycle of a set of assets, each as one readable path.

Tarjan's algorithm finds the strongly connected components in linear time (iteratively,
so a 10,000-asset chain does not hit the recursion limit); each component of two or more
assets holds at least one cycle, and the shortest one through its first-defined asset is
reported.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition


def find_cycles(assets: Mapping[str, AssetDefinition]) -> list[list[str]]:
    """Return one cycle per cyclic component, in data-flow order (each asset is followed by
    one that depends on it), starting with the component's first-defined asset. Unknown
    dependencies and self dependencies are ignored (they are reported separately)."""
    children: dict[str, list[str]] = {name: [] for name in assets}
    for name, asset in assets.items():
        for dep in asset.dep_names():
            if dep in children and dep != name:
                children[dep].append(name)
    position = {name: i for i, name in enumerate(assets)}
    cycles = []
    for component in _components(list(assets), children):
        if len(component) > 1:
            start = min(component, key=position.__getitem__)
            cycles.append(_shortest_cycle(start, set(component), children))
    cycles.sort(key=lambda cycle: position[cycle[0]])
    return cycles


def _components(nodes: Sequence[str], successors: Mapping[str, list[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in nodes:
        if root in index:
            continue
        visit(root)
        work = [(root, iter(successors[root]))]
        while work:
            node, pending = work[-1]
            for succ in pending:
                if succ not in index:
                    visit(succ)
                    work.append((succ, iter(successors[succ])))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    found.append(_pop_component(node, stack, on_stack))
    return found


def _pop_component(node: str, stack: list[str], on_stack: set[str]) -> list[str]:
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
            return component


def _shortest_cycle(
    start: str, members: set[str], successors: Mapping[str, list[str]]
) -> list[str]:
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in successors[node]:
            if succ == start:
                return _path(start, node, came_from)
            if succ in members and succ not in came_from:
                came_from[succ] = node
                queue.append(succ)
    raise AssertionError(f"component of {start!r} has no cycle")  # pragma: no cover


def _path(start: str, last: str, came_from: Mapping[str, str]) -> list[str]:
    path = [last]
    while path[-1] != start:
        path.append(came_from[path[-1]])
    path.reverse()
    return path
