"""Planning: which nodes a call has to run.

``materialize`` runs one node. ``materialize_all`` runs the node and its whole upstream
closure (every upstream partition it reads, recursively). A backfill partition runs the
node and only the upstream nodes that have no succeeded materialization yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from flowstone.engine._node import Node, upstream_of
from flowstone.engine._scheduler import Plan

if TYPE_CHECKING:
    from flowstone.engine._engine import Engine


async def plan_single(engine: Engine, node: Node) -> Plan:
    """Plan one node; raise ``MissingUpstream`` if an input was never materialized."""
    asset = engine.pipeline.get(node.asset)
    missing: list[Node] = []
    for up in upstream_of(asset, node, engine.pipeline.get, engine.dynamic_keys):
        latest = await engine.latest_succeeded(up.nodes)
        missing.extend(n for n in up.nodes if n.encoded not in latest)
    if missing:
        raise engine.missing_upstream(node, missing)
    plan = Plan()
    plan.add(node)
    return plan


NodeId = tuple[str, str | None]


async def plan_closure(
    engine: Engine,
    targets: list[Node],
    *,
    only_missing: bool,
    checked: Mapping[NodeId, bool] | None = None,
) -> Plan:
    """Plan ``targets`` with their upstream closure.

    With ``only_missing``, an upstream node that already has a succeeded materialization
    is not run (and its own upstream is not visited). ``checked`` holds answers looked up
    beforehand (node id -> had a succeeded materialization), see ``prefetch_succeeded``.
    """
    plan = Plan()
    frontier = list(targets)
    seen = {n.id for n in targets}
    target_ids = set(seen)
    while frontier:
        node = frontier.pop()
        asset = engine.pipeline.get(node.asset)
        ups = [
            n
            for up in upstream_of(asset, node, engine.pipeline.get, engine.dynamic_keys)
            for n in up.nodes
        ]
        if only_missing and ups:
            ups = await _without_succeeded(engine, ups, checked or {})
        plan.add(node, ups, conditional=only_missing and node.id not in target_ids)
        for up in ups:
            if up.id not in seen:
                seen.add(up.id)
                frontier.append(up)
    return plan


async def prefetch_succeeded(engine: Engine, targets: Sequence[Node]) -> dict[NodeId, bool]:
    """Whether each upstream node of ``targets`` has a succeeded materialization, for the
    whole part of the closure a backfill would plan: the direct upstream nodes, then the
    upstream nodes of those that are missing, and so on. One query per asset and level
    instead of one per partition and level.

    A backfill asks this once per chunk of partitions. An answer may be stale by the time a
    partition is planned, which is safe: a succeeded materialization stays succeeded, and a
    node planned because it was missing is planned *conditionally*, so it is checked again
    just before it would start (and skipped if this runtime made it meanwhile).
    """
    answers: dict[NodeId, bool] = {}
    level = list(targets)
    while level:
        by_asset: dict[str, dict[NodeId, Node]] = {}
        for node in level:
            asset = engine.pipeline.get(node.asset)
            try:
                ups = upstream_of(asset, node, engine.pipeline.get, engine.dynamic_keys)
            except Exception:
                continue  # planning that partition raises it again, and reports it as its failure
            for up in ups:
                for n in up.nodes:
                    if n.id not in answers:
                        by_asset.setdefault(n.asset, {})[n.id] = n
        level = []
        for group in by_asset.values():
            nodes = list(group.values())
            latest = await engine.latest_succeeded(nodes)
            for n in nodes:
                made = n.encoded in latest
                answers[n.id] = made
                if not made:
                    level.append(n)
    return answers


async def _without_succeeded(
    engine: Engine, nodes: list[Node], checked: Mapping[NodeId, bool]
) -> list[Node]:
    by_asset: dict[str, list[Node]] = {}
    for n in nodes:
        by_asset.setdefault(n.asset, []).append(n)
    keep: list[Node] = []
    for group in by_asset.values():
        unknown = [n for n in group if n.id not in checked]
        latest = await engine.latest_succeeded(unknown) if unknown else {}
        keep.extend(n for n in group if not checked.get(n.id, False) and n.encoded not in latest)
    return keep
