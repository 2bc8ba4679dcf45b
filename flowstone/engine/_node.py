"""Nodes of an execution plan: one (asset, partition) each, and how a node finds the
upstream partitions it reads through its dependencies' partition mappings."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flowstone.errors import InvalidPartition

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition


@dataclass(frozen=True, slots=True)
class Node:
    """One asset partition to materialize (``key`` canonical, ``encoded`` its string form)."""

    asset: str
    key: Any
    encoded: str | None

    @property
    def id(self) -> tuple[str, str | None]:
        """A hashable identity: (asset, encoded partition)."""
        return (self.asset, self.encoded)

    def label(self) -> str:
        """``asset`` or ``asset[partition]`` for messages."""
        return self.asset if self.encoded is None else f"{self.asset}[{self.encoded}]"


def run_name(pipeline: str, node: Node, run_id: str) -> str:
    """The name of ``node``'s work in run ``run_id``:
    ``flowstone:<pipeline>/<asset>/<partition>?run=<run id>`` (no ``/<partition>`` for an
    unpartitioned asset). Its materializer actor is registered under it, and a Ray asset's
    task carries it, so ``actors.whereis``, the Ray dashboard and ``ray list tasks`` agree."""
    path = f"{pipeline}/{node.asset}"
    if node.encoded is not None:
        path = f"{path}/{node.encoded}"
    return f"flowstone:{path}?run={run_id}"


def make_node(asset: AssetDefinition, partition: Any) -> Node:
    """Validate ``partition`` against the asset's definition and build its node.

    Raises:
        InvalidPartition: a partitioned asset without a key, an unpartitioned asset with
            one, or a key that does not fit the definition.
    """
    definition = asset.partitions
    if definition is None:
        if partition is not None:
            raise InvalidPartition(
                f"asset {asset.name!r} is not partitioned, but partition {partition!r} was "
                f"given; call it without a partition"
            )
        return Node(asset.name, None, None)
    if partition is None:
        raise InvalidPartition(
            f"asset {asset.name!r} is partitioned ({definition.describe()}) and needs a "
            f"partition key, e.g. partition={definition.example()!r}"
        )
    try:
        key = definition.validate(partition)
    except InvalidPartition as exc:
        raise InvalidPartition(f"asset {asset.name!r}: {exc}") from None
    return Node(asset.name, key, definition.encode(key))


@dataclass(frozen=True, slots=True)
class Upstream:
    """What one dependency of a node reads: the upstream nodes, and whether the function
    receives one value (``single``) or a dict of values keyed by partition."""

    dep: str
    nodes: tuple[Node, ...]
    single: bool


def upstream_of(
    asset: AssetDefinition, node: Node, lookup: Any, dynamic: Any = None
) -> list[Upstream]:
    """Return, per dependency of ``asset``, the upstream nodes that ``node`` reads.

    ``dynamic`` maps a definition to its stored keys, for mappings that need "every key"
    of a dynamic partitions definition.
    """
    now = datetime.now(UTC)
    result = []
    for dep in asset.deps:
        up = lookup(dep.name)
        if up.partitions is None:
            result.append(Upstream(dep.name, (Node(up.name, None, None),), True))
            continue
        mapping, single, same = _dependency(asset, dep.name, up)
        if same:
            # Identity between equal definitions: the upstream node has the same canonical
            # key and encoding as this one (what the mapping would compute, without the
            # validation of a key that was validated when its node was made).
            result.append(Upstream(dep.name, (Node(up.name, node.key, node.encoded),), single))
            continue
        stored = dynamic(up.partitions) if dynamic is not None else None
        keys = mapping.upstream_keys(
            node.key, asset.partitions, up.partitions, now=now, dynamic_keys=stored
        )
        nodes = tuple(Node(up.name, k, up.partitions.encode(k)) for k in keys)
        result.append(Upstream(dep.name, nodes, single))
    return result


_dependencies: weakref.WeakKeyDictionary[AssetDefinition, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def _dependency(asset: AssetDefinition, dep: str, up: AssetDefinition) -> tuple[Any, bool, bool]:
    """The mapping of ``asset`` onto its dependency ``dep``, whether the function gets one
    value, and whether it is an identity between equal definitions. Definitions are
    immutable, so this is worked out once per (asset, dependency), not once per node."""
    from flowstone.partitions import IdentityMapping

    cache = _dependencies.setdefault(asset, {})
    found = cache.get(dep)
    if found is None or found[0] is not up:
        mapping = asset.mapping_for(dep)
        same = type(mapping) is IdentityMapping and asset.partitions == up.partitions
        found = cache[dep] = (up, mapping, _is_single(mapping, asset, up), same)
    return found[1], found[2], found[3]


def _is_single(mapping: Any, asset: AssetDefinition, up: AssetDefinition) -> bool:
    """One value when partitions line up one-to-one; a dict keyed by partition otherwise."""
    from flowstone.partitions import IdentityMapping, TimeWindowMapping

    if asset.partitions is None:
        return False
    if isinstance(mapping, IdentityMapping):
        return True
    if isinstance(mapping, TimeWindowMapping):
        same_grain = type(asset.partitions) is type(up.partitions)
        return same_grain and mapping.start_offset == mapping.end_offset
    return False


def labels(nodes: Sequence[Node]) -> str:
    """Render nodes for messages: ``a[2024-01-01], b``."""
    return ", ".join(n.label() for n in nodes)
