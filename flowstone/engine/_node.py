"""Nodes of an execution plan: one (asset, partition) each, and how a node finds the
upstream partitions it reads through its dependencies' partition mappings."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, final

from flowstone.errors import InvalidPartition, MissingUpstream
from flowstone.partitions import PartitionKey

if TYPE_CHECKING:
    from flowstone.definitions._asset import AssetDefinition


NodeId = tuple[str, str | None]
"""A node's hashable identity: (asset, encoded partition key)."""


@final
class Node:
    """One asset partition to materialize: an asset name and a ``PartitionKey``.

    Immutable; ``key``, ``encoded`` and ``id`` are read on every step of the hot path, so
    they are plain slots computed once rather than properties.
    """

    __slots__ = ("asset", "encoded", "id", "key", "partition")

    asset: str
    partition: PartitionKey
    key: Any
    """The decoded partition key (``None`` when unpartitioned)."""
    encoded: str | None
    """The partition key's canonical string (``None`` when unpartitioned)."""
    id: NodeId
    """A hashable identity: (asset, encoded partition)."""

    def __init__(self, asset: str, partition: PartitionKey) -> None:
        setter = object.__setattr__
        setter(self, "asset", asset)
        setter(self, "partition", partition)
        setter(self, "key", partition.value)
        setter(self, "encoded", partition.encoded)
        setter(self, "id", (asset, partition.encoded))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Node is immutable (tried to set {name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Node({self.asset!r}, {self.partition!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Node, (self.asset, self.partition))

    def label(self) -> str:
        """``asset`` or ``asset[partition]`` for messages."""
        return self.asset if self.encoded is None else f"{self.asset}[{self.encoded}]"


def run_name(pipeline: str, node: Node, run_id: str) -> str:
    """The registered name of ``node``'s materializer actor in run ``run_id``:
    ``flowstone:<pipeline>/<asset>/<partition>?run=<run id>`` (no ``/<partition>`` for an
    unpartitioned asset), so ``actors.whereis`` finds the work of one run."""
    return f"{task_name(pipeline, node)}?run={run_id}"


def task_name(pipeline: str, node: Node) -> str:
    """The name of a Ray asset's task: ``flowstone:<pipeline>/<asset>/<partition>``.

    The run id is not part of it (it travels in the task's runtime metadata instead), so
    ``ray summary tasks`` groups the attempts of one asset partition under one name."""
    path = f"{pipeline}/{node.asset}"
    if node.encoded is not None:
        path = f"{path}/{node.encoded}"
    return f"flowstone:{path}"


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
        return Node(asset.name, PartitionKey.NONE)
    if partition is None:
        raise InvalidPartition(
            f"asset {asset.name!r} is partitioned ({definition.describe()}) and needs a "
            f"partition key, e.g. partition={definition.example()!r}"
        )
    try:
        key = PartitionKey.from_value(definition, partition)
    except InvalidPartition as exc:
        raise InvalidPartition(f"asset {asset.name!r}: {exc}") from None
    return Node(asset.name, key)


@dataclass(frozen=True, slots=True)
class Upstream:
    """What one dependency of a node reads: the upstream nodes, and whether the function
    receives one value (``single``) or a dict of values keyed by partition."""

    dep: str
    nodes: tuple[Node, ...]
    single: bool


AssetLookup = Callable[[str], "AssetDefinition"]
DynamicKeys = Callable[[Any], Any]


def upstream_of(
    asset: AssetDefinition,
    node: Node,
    lookup: AssetLookup,
    dynamic: DynamicKeys | None = None,
    *,
    now: datetime,
) -> list[Upstream]:
    """Return, per dependency of ``asset``, the upstream nodes that ``node`` reads.

    ``dynamic`` maps a definition to its stored keys, for mappings that need "every key"
    of a dynamic partitions definition; ``now`` is the instant relative mappings use.
    """
    result = []
    for dep in asset.deps:
        up = lookup(dep.name)
        if up.partitions is None:
            result.append(Upstream(dep.name, (Node(up.name, PartitionKey.NONE),), True))
            continue
        mapping, single, same = _dependency(asset, dep.name, up)
        if same:
            # Identity between equal definitions: the upstream node has the same canonical
            # key and encoding as this one (what the mapping would compute, without the
            # validation of a key that was validated when its node was made).
            result.append(Upstream(dep.name, (Node(up.name, node.partition),), single))
            continue
        stored = dynamic(up.partitions) if dynamic is not None else None
        keys = mapping.upstream_keys(
            node.key, asset.partitions, up.partitions, now=now, dynamic_keys=stored
        )
        nodes = tuple(Node(up.name, PartitionKey(k, up.partitions.encode(k))) for k in keys)
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


def missing_upstream(node: Node, missing: Sequence[Node]) -> MissingUpstream:
    """The error for a node whose upstream partitions have no succeeded materialization.

    The hint shows the encoded key (``'2025-01-02'``), the form both the Python API and
    the CLI accept."""
    part = f", partition={node.encoded!r}" if node.encoded is not None else ""
    cli_part = f" --partition {node.encoded}" if node.encoded is not None else ""
    return MissingUpstream(
        f"cannot materialize {node.label()}: upstream {labels(missing)} "
        f"{'has' if len(missing) == 1 else 'have'} no successful materialization; "
        f"materialize the upstream first with rt.materialize_all({node.asset!r}{part}) "
        f"or `flowstone materialize {node.asset}{cli_part} --with-upstream`",
        [(n.asset, n.key) for n in missing],
    )


def value_key(node: Node) -> Any:
    """Key of an input value in the dict an asset receives: the partition key, or its
    string form for keys that cannot be dict keys (multi-partition keys are dicts)."""
    return node.encoded if isinstance(node.key, dict) else node.key


def shape(up: Upstream, loaded: dict[Any, Any]) -> Any:
    """The value an asset function receives for one dependency, from the loaded values."""
    if up.single:
        return next(iter(loaded.values())) if loaded else None
    if len(up.nodes) == 1 and up.nodes[0].key is None:
        return loaded[None]
    return loaded
