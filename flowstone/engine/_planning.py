"""Planning: which nodes a call has to run, and in which order.

``materialize`` runs one node. ``materialize_all`` runs the node and its whole upstream
closure (every upstream partition it reads, recursively). A backfill partition runs the
node and only the upstream nodes that have no succeeded materialization yet. A resumed run
re-plans its targets and marks what already succeeded in it as done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowstone.clock import utcnow
from flowstone.engine._node import Node, NodeId, Upstream, missing_upstream, upstream_of

if TYPE_CHECKING:
    from datetime import datetime

    from flowstone.definitions._asset import AssetDefinition
    from flowstone.engine._materializer import SucceededRecords
    from flowstone.engine._results import Materialization


@dataclass
class Plan:
    """The nodes of one run and, per node, the nodes of the same run it waits for."""

    nodes: dict[NodeId, Node] = field(default_factory=dict)
    deps: dict[NodeId, set[NodeId]] = field(default_factory=dict)
    conditional: set[NodeId] = field(default_factory=set)
    """Nodes planned only because they had no succeeded materialization at planning time;
    they are skipped if another run of this runtime made them meanwhile."""
    done: dict[NodeId, Materialization] = field(default_factory=dict)
    """Nodes that already succeeded in this run (a resumed run): not started again, their
    records are their dependents' inputs."""
    attempts_before: dict[NodeId, int] = field(default_factory=dict)
    """Attempts a resumed run already recorded per node: new attempts number after them,
    so every attempt keeps its own record."""

    def add(self, node: Node, deps: Iterable[Node] = (), *, conditional: bool = False) -> None:
        """Add ``node`` (idempotent) waiting for ``deps`` (which must be added too)."""
        self.nodes.setdefault(node.id, node)
        self.deps.setdefault(node.id, set()).update(d.id for d in deps)
        if conditional:
            self.conditional.add(node.id)


@dataclass(frozen=True)
class RunSpec:
    """What to run and on whose behalf."""

    run_id: str
    kind: str
    targets: tuple[str, ...]
    plan: Plan
    triggered_by: str
    trigger: str = "manual"
    backfill_id: str | None = None
    partition: str | None = None
    tenant: str | None = None
    started_at: datetime | None = None
    """When the run first started (a resumed run keeps it); None: now."""


class Planner:
    """Builds plans for one pipeline from its definitions and the records of success."""

    def __init__(
        self,
        lookup: Callable[[str], AssetDefinition],
        records: SucceededRecords,
        stored_keys: Callable[[Any], Any],
    ) -> None:
        self._lookup = lookup
        self._records = records
        self._stored_keys = stored_keys

    def upstream(self, node: Node) -> list[Upstream]:
        """What ``node`` reads, per dependency."""
        asset = self._lookup(node.asset)
        return upstream_of(asset, node, self._lookup, self._stored_keys, now=utcnow())

    async def single(self, node: Node) -> Plan:
        """Plan one node; raise ``MissingUpstream`` if an input was never materialized."""
        missing: list[Node] = []
        for up in self.upstream(node):
            latest = await self._records.latest_succeeded(up.nodes)
            missing.extend(n for n in up.nodes if n.encoded not in latest)
        if missing:
            raise missing_upstream(node, missing)
        plan = Plan()
        plan.add(node)
        return plan

    async def closure(
        self,
        targets: Sequence[Node],
        *,
        only_missing: bool,
        checked: Mapping[NodeId, bool] | None = None,
    ) -> Plan:
        """Plan ``targets`` with their upstream closure.

        With ``only_missing``, an upstream node that already has a succeeded materialization
        is not run (and its own upstream is not visited). ``checked`` holds answers looked up
        beforehand (node id -> had a succeeded materialization), see ``prefetch``.
        """
        plan = Plan()
        frontier = list(targets)
        seen = {n.id for n in targets}
        target_ids = set(seen)
        while frontier:
            node = frontier.pop()
            ups = [n for up in self.upstream(node) for n in up.nodes]
            if only_missing and ups:
                ups = await self._without_succeeded(ups, checked or {})
            plan.add(node, ups, conditional=only_missing and node.id not in target_ids)
            for up in ups:
                if up.id not in seen:
                    seen.add(up.id)
                    frontier.append(up)
        return plan

    async def prefetch(self, targets: Sequence[Node]) -> dict[NodeId, bool]:
        """Whether each upstream node of ``targets`` has a succeeded materialization, for the
        whole part of the closure a backfill would plan: the direct upstream nodes, then the
        upstream nodes of those that are missing, and so on. One query per asset and level
        instead of one per partition and level.

        A backfill asks this once per chunk of partitions. An answer may be stale by the time
        a partition is planned, which is safe: a succeeded materialization stays succeeded,
        and a node planned because it was missing is planned *conditionally*, so it is checked
        again just before it would start (and skipped if this runtime made it meanwhile).
        """
        answers: dict[NodeId, bool] = {}
        level = list(targets)
        while level:
            by_asset: dict[str, dict[NodeId, Node]] = {}
            for node in level:
                try:
                    ups = self.upstream(node)
                except Exception:
                    continue  # planning that partition raises it again, as its failure
                for up in ups:
                    for n in up.nodes:
                        if n.id not in answers:
                            by_asset.setdefault(n.asset, {})[n.id] = n
            level = []
            for group in by_asset.values():
                nodes = list(group.values())
                latest = await self._records.latest_succeeded(nodes)
                for n in nodes:
                    made = n.encoded in latest
                    answers[n.id] = made
                    if not made:
                        level.append(n)
        return answers

    async def _without_succeeded(
        self, nodes: list[Node], checked: Mapping[NodeId, bool]
    ) -> list[Node]:
        by_asset: dict[str, list[Node]] = {}
        for n in nodes:
            by_asset.setdefault(n.asset, []).append(n)
        keep: list[Node] = []
        for group in by_asset.values():
            unknown = [n for n in group if n.id not in checked]
            latest = await self._records.latest_succeeded(unknown) if unknown else {}
            keep.extend(
                n for n in group if not checked.get(n.id, False) and n.encoded not in latest
            )
        return keep
